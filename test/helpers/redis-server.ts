import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unusedPort } from './net';

/**
 * A private `redis-server` for tests that must stop, kill or restart Redis: its own free port and its
 * own temp data directory, so the shared Redis on 6379 is never touched. `persist: true` turns on the
 * append-only file, so a restart keeps the data (as a production Redis would); otherwise a restart
 * comes back empty (a Redis that lost its data).
 */
export class TestRedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'reservoir-redis-'));
  port = 0;
  private proc: ChildProcess | undefined;

  constructor(private readonly persist = false) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await unusedPort();
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      this.persist ? 'yes' : 'no',
      '--appendfsync',
      'always',
    ];
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    this.proc = proc;
    await this.waitUp(5_000);
  }

  /** Sends SIGKILL and waits for the process to exit (bounded). */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p === undefined || p.exitCode !== null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = new Promise<void>((r) => {
      p.once('exit', () => r());
      timer = setTimeout(r, 5_000);
    });
    p.kill('SIGKILL');
    await exited;
    clearTimeout(timer);
  }

  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async dispose(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitUp(ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      if (await this.ping()) return;
      if (Date.now() > until)
        throw new Error(`redis-server on port ${this.port} did not start within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: this.port });
      const done = (ok: boolean): void => {
        s.destroy();
        resolve(ok);
      };
      s.setTimeout(500, () => done(false));
      s.once('error', () => done(false));
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
  }
}
