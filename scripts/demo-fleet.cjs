#!/usr/bin/env node
'use strict';
/**
 * `npm run demo:fleet`: two demo instances on two ports against one database and one Redis, so the
 * shared lazy tier can be watched at work (a settings write on one shows the new version on the other).
 *
 *   npm run demo:fleet                 # ports 3000 and 3001
 *   npm run demo:fleet -- 4000 4001    # or FLEET_PORTS=4000,4001
 *
 * - Database: DATABASE_URL (PostgreSQL) when set, else the embedded SQLite file in DATA_DIR
 *   (default ./data), which both instances open (WAL mode; writes wait on SQLite's busy timeout).
 * - Redis: REDIS_URL (default redis://127.0.0.1:6379); REDIS_PREFIX is passed through.
 * - Builds the demo first when dist is missing or stale. Starts the instances one after the other
 *   (the first creates the schema and seeds an empty database), prints both URLs, and on Ctrl-C
 *   (SIGINT) or SIGTERM stops both and waits for them (bounded; then SIGKILL).
 *
 * Plain CommonJS with no dependencies beyond the repository's own scripts.
 */
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { URL } = require('node:url');
const { ensureDemoBuilt } = require('./test-prepare.cjs');

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_PORTS = [3000, 3001];
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Bounds: one instance's start, the Redis check, and the stop of both on Ctrl-C. */
const START_TIMEOUT_MS = 60_000;
const REDIS_CHECK_TIMEOUT_MS = 2_000;
const STOP_TIMEOUT_MS = 15_000;

function fail(message) {
  process.stderr.write(`demo:fleet: ${message}\n`);
  process.exit(1);
}

/** The two ports from the arguments, FLEET_PORTS, or the defaults; named errors for bad values. */
function parsePorts(argv, env) {
  const given = argv.length > 0 ? argv : env.FLEET_PORTS ? env.FLEET_PORTS.split(',') : undefined;
  if (given === undefined) return DEFAULT_PORTS;
  const source = argv.length > 0 ? 'arguments' : 'FLEET_PORTS';
  const ports = given.map((p) => Number(String(p).trim()));
  if (
    ports.length !== 2 ||
    ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535) ||
    ports[0] === ports[1]
  ) {
    throw new Error(
      `invalid ports in ${source} (${JSON.stringify(given.join(','))}): expected two different integers from 1 to 65535, e.g. 3000 3001`,
    );
  }
  return ports;
}

function redact(url) {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Resolves when Redis answers PING (bounded), rejects with the reason otherwise. */
function pingRedis(url) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) });
    const done = (err) => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(REDIS_CHECK_TIMEOUT_MS, () => done(new Error('timed out')));
    sock.once('error', done);
    sock.once('connect', () => {
      if (u.password)
        sock.write(
          `AUTH ${u.username ? `${decodeURIComponent(u.username)} ` : ''}${decodeURIComponent(u.password)}\r\n`,
        );
      sock.write('PING\r\n');
    });
    let reply = '';
    sock.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('+PONG')) done();
      else if (reply.startsWith('-')) done(new Error(reply.trim()));
    });
  });
}

/** Starts one instance; resolves with its URL once it logged "Reservoir demo on …". */
function startInstance(main, name, port, env) {
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches only this script, which sends each instance exactly one
    // SIGTERM (a second signal during Nest's shutdown would end the process before the pools drained).
    detached: true,
  });
  const tag = `[${name}:${port}] `;
  let started = false;
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    const relay = (stream, out) => {
      let partial = '';
      stream.on('data', (d) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop();
        for (const line of lines) {
          out.write(tag + line + '\n');
          const m = /Reservoir demo on (http:\/\/[^/\s]+)\/dashboard/.exec(line);
          if (m && !started) {
            started = true;
            clearTimeout(timer);
            resolve(m[1]);
          }
        }
      });
    };
    relay(child.stdout, process.stdout);
    relay(child.stderr, process.stderr);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited during startup (code ${code}, signal ${signal})`));
    });
  });
  return { name, port, child, url, exited };
}

async function stopAll(instances) {
  await Promise.all(
    instances.map(async (i) => {
      if (i.child.exitCode !== null || i.child.signalCode !== null) return;
      i.child.kill('SIGTERM');
      const killer = setTimeout(() => i.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await i.exited;
      clearTimeout(killer);
    }),
  );
}

async function main() {
  let ports;
  try {
    ports = parsePorts(process.argv.slice(2), process.env);
  } catch (err) {
    fail(err.message);
  }
  const redisUrl = process.env.REDIS_URL?.trim() || DEFAULT_REDIS_URL;
  try {
    await pingRedis(redisUrl);
  } catch (err) {
    fail(
      `Redis is not reachable at ${redact(redisUrl)} (${err.message}). Start one (e.g. redis-server --port 6379) or set REDIS_URL.`,
    );
  }
  const env = { REDIS_URL: redisUrl };
  if (!process.env.DATABASE_URL) env.DATA_DIR = path.resolve(process.env.DATA_DIR || 'data');
  const built = ensureDemoBuilt();

  const instances = [];
  let stopping = false;
  const shutdown = async (code) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('demo:fleet: stopping both instances…\n');
    await stopAll(instances);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  // Never leave an instance behind (detached children outlive their parent otherwise).
  process.on('exit', () => {
    for (const i of instances)
      if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
  });

  const urls = [];
  for (const [i, port] of ports.entries()) {
    const inst = startInstance(built, i === 0 ? 'a' : 'b', port, env);
    instances.push(inst);
    // One instance ending on its own ends the fleet: the other is stopped too.
    inst.exited.then(({ code, signal }) => {
      if (stopping) return;
      process.stderr.write(`demo:fleet: instance ${inst.name} ended (code ${code}, signal ${signal})\n`);
      void shutdown(1);
    });
    try {
      urls.push(await inst.url);
    } catch (err) {
      process.stderr.write(`demo:fleet: ${err.message}\n`);
      return shutdown(1);
    }
  }
  const db = process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `SQLite in ${env.DATA_DIR}`;
  process.stdout.write(
    `\ndemo:fleet: 2 instances on ${db}, lazy resources shared on ${redact(redisUrl)}\n` +
      urls.map((u, i) => `  ${i === 0 ? 'a' : 'b'}: ${u}/dashboard\n`).join('') +
      'Ctrl-C stops both.\n\n',
  );
}

if (require.main === module) {
  main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
}

module.exports = { parsePorts };
