import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const REGISTER = join(__dirname, '..', 'helpers', 'ts-register.js');
const WORKER = join(__dirname, 'tier-worker.ts');

type Reply = { id: number; ok: boolean; result?: unknown; error?: string };

/** One tier worker process, driven over IPC with bounded waits. */
export class FleetWorker {
  readonly proc: ChildProcess;
  readonly events: Record<string, unknown>[] = [];
  readonly notes: Record<string, unknown>[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private readonly readyP: Promise<boolean>;

  constructor(env: Record<string, string>) {
    this.proc = fork(WORKER, [], {
      execArgv: ['-r', REGISTER],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let ready!: (ok: boolean) => void;
    this.readyP = new Promise((r) => (ready = r));
    this.proc.on('message', (m: Record<string, unknown>) => {
      if ('ready' in m) ready(m.ready === true);
      else if ('event' in m) this.events.push(m.event as Record<string, unknown>);
      else if ('id' in m) this.pending.get(m.id as number)?.(m as unknown as Reply);
      else this.notes.push(m);
    });
    this.proc.on('exit', () => ready(false));
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  ready(ms = 15_000): Promise<boolean> {
    return Promise.race([this.readyP, new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  }

  /** Sends one command; rejects on a worker error or after `ms`. */
  call<T = Record<string, unknown>>(cmd: Record<string, unknown>, ms = 15_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${this.pid}: ${String(cmd.op)} got no answer within ${ms} ms`));
      }, ms);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (r.ok) resolve(r.result as T);
        else reject(new Error(r.error));
      });
      this.proc.send({ ...cmd, id });
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGCONT');
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    await this.call({ op: 'close' }, 3_000).catch(() => this.proc.kill('SIGKILL'));
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000).unref())]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** Percentile (nearest rank) of a list of numbers. */
export function pct(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
