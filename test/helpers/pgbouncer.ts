/**
 * A private PgBouncer for one test file: its own free port, its own temp config directory, stopped
 * (and the directory removed) by `stop()`. Never touches a system-wide PgBouncer.
 *
 * The binary comes from the Debian package `pgbouncer`; `scripts/test-prepare.cjs` installs it when
 * missing (root with apt-get, one line says so) or fails with the install command.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { unusedPort } from './net';
import { makeTempDir, removeTempDir } from './tmp';
import { TOOLS, findOnPath, provisionTools } from '../../scripts/test-prepare.cjs';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface PgBouncerDatabase {
  /** The name clients connect to. */
  alias: string;
  /** The PostgreSQL database it forwards to. */
  dbname: string;
  /** Server connections PgBouncer keeps for this alias and user; small values force multiplexing. */
  poolSize: number;
}

export interface PgBouncerOptions {
  databases: PgBouncerDatabase[];
  /** Roles allowed to connect (auth_type trust still needs them in the auth file). */
  users: string[];
  /** @default 'transaction' */
  poolMode?: 'session' | 'transaction' | 'statement';
  /** Upstream PostgreSQL. @default 127.0.0.1:5432 */
  host?: string;
  port?: number;
}

export interface PgBouncerInstance {
  port: number;
  /** `postgres://user@127.0.0.1:<port>/<alias>` */
  url(user: string, alias: string): string;
  /** What PgBouncer logged so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** The pgbouncer binary, installing the Debian package first when it is missing (or failing saying how). */
export function pgbouncerBinary(): string {
  const tool = TOOLS.find((t) => t.command === 'pgbouncer');
  if (!tool) throw new Error('scripts/test-prepare.cjs lists no pgbouncer tool');
  provisionTools({ tools: [tool] });
  const bin = findOnPath('pgbouncer', process.env.PATH);
  if (!bin) throw new Error('pgbouncer is still not on PATH after provisioning');
  return bin;
}

function waitForPort(port: number, deadline: number, child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) {
        reject(new Error(`pgbouncer exited with code ${child.exitCode} before listening:\n${log()}`));
        return;
      }
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline)
          reject(new Error(`pgbouncer did not listen on ${port} in time:\n${log()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncerInstance> {
  const bin = pgbouncerBinary();
  const dir = makeTempDir('reservoir-pgbouncer');
  const port = await unusedPort();
  const host = options.host ?? '127.0.0.1';
  const upstreamPort = options.port ?? 5432;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const ini = [
    '[databases]',
    ...options.databases.map(
      (d) => `${d.alias} = host=${host} port=${upstreamPort} dbname=${d.dbname} pool_size=${d.poolSize}`,
    ),
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    // No unix socket: it would collide with other instances in /tmp.
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    `pool_mode = ${options.poolMode ?? 'transaction'}`,
    'max_client_conn = 500',
    // node-postgres sends no such parameters, but other clients do; harmless to accept.
    'ignore_startup_parameters = extra_float_digits,options',
    // PgBouncer refuses to run as root; it drops to this user itself.
    ...(asRoot ? ['user = postgres'] : []),
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), ini);
  writeFileSync(join(dir, 'userlist.txt'), options.users.map((u) => `"${u}" ""`).join('\n') + '\n');
  if (asRoot) {
    // After dropping privileges it must still write its pid file into the directory.
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }

  let output = '';
  const child = spawn(bin, [join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const log = () => output;
  try {
    await waitForPort(port, Date.now() + START_TIMEOUT_MS, child, log);
  } catch (err) {
    child.kill('SIGKILL');
    removeTempDir(dir);
    throw err;
  }

  return {
    port,
    url: (user, alias) => `postgres://${user}@127.0.0.1:${port}/${alias}`,
    log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGINT'); // immediate shutdown: closes every client and server connection
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      removeTempDir(dir);
    },
  };
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error('no postgres user to run pgbouncer as');
  return { uid, gid };
}
