#!/usr/bin/env node
/**
 * Consumer apps, installed the way users install Reservoir.
 *
 * 1. Takes the tarballs in dist/packages/ (runs `npm run pack` when they are missing or older than
 *    the libs' sources).
 * 2. Starts its own Verdaccio on a free loopback port, storage and config in a temp dir: the
 *    `@reservoir/*` scope is served from that storage only, everything else is proxied to the npm
 *    registry npm is configured with. Publishes every tarball to it.
 * 3. Creates, in the PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 *    one ordinary role (random name) and one database per Nest consumer with a row-level-security table.
 * 4. For each consumer under test/consumers/<name>/: copies it to a fresh temp dir outside the
 *    repository, installs its dependencies BY NAME from that registry, compiles it with its own `tsc`
 *    (strict, skipLibCheck false), then
 *    - Nest apps: starts it on a free port and checks /health, /metrics, tenant routes (RLS keeps
 *      organisations apart), the @LazyResource cache, 400 JSON for bad tenant input, and a clean
 *      SIGTERM that leaves no backend behind;
 *    - plain-node: runs it (it creates and drops its own database) and checks its report.
 * 5. Stops every process and drops every role and database it created, removes every temp dir, pass or
 *    fail (also on Ctrl-C).
 *
 * Usage: node test/consumers/run.mjs [--no-pack] [consumer ...]
 * Env:   DATABASE_URL (admin connection), CONSUMERS_CONCURRENCY (default 2).
 * Every wait is bounded by LIMITS below.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { URL, fileURLToPath } from 'node:url';

/* global AbortSignal */

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CONSUMERS_DIR = path.join(ROOT, 'test/consumers');
const SHARED_NEST_DIR = path.join(CONSUMERS_DIR, 'nest-shared');
const PACKAGES_DIR = path.join(ROOT, 'dist/packages');
const PACKAGE_NAMES = [
  '@reservoir/core',
  '@reservoir/tenant',
  '@reservoir/pool',
  '@reservoir/lazy',
  '@reservoir/metrics',
];

/** Every consumer, in run order. `nest` apps are servers; `plain` runs to completion. */
const CONSUMERS = [
  { name: 'nest12-cjs', kind: 'nest' },
  { name: 'nest11-cjs', kind: 'nest' },
  { name: 'nest12-esm', kind: 'nest' },
  { name: 'plain-node', kind: 'plain' },
];

/** Upper bounds of every wait, in ms. */
const LIMITS = {
  pack: 5 * 60_000,
  verdaccioStart: 30_000,
  publish: 60_000,
  install: 6 * 60_000,
  build: 3 * 60_000,
  appStart: 30_000,
  request: 10_000,
  appStop: 15_000,
  plainRun: 60_000,
  backendsGone: 5_000,
  kill: 5_000,
  sql: 15_000,
};

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUN_ID = randomBytes(4).toString('hex');
const ORGS = ['acme', 'globex'];
const HIDDEN_ORG = 'initech';

// ---------------------------------------------------------------- output

const t0 = performance.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const log = (scope, msg) => console.log(`[${scope}] ${msg}`);

/** Runs `fn` as a named step: prints start, ok/FAIL and its duration. */
async function step(scope, title, fn) {
  const started = performance.now();
  log(scope, `${title} ...`);
  try {
    const result = await fn();
    log(scope, `ok   ${title} (${secs(performance.now() - started)})`);
    return result;
  } catch (err) {
    log(scope, `FAIL ${title} (${secs(performance.now() - started)})`);
    throw err;
  }
}

class CheckError extends Error {}
function check(cond, message) {
  if (!cond) throw new CheckError(message);
}

// ---------------------------------------------------------------- processes

const children = new Set();

/** An environment without the npm_* variables `npm run` adds, so children behave as in a shell. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_ENV') env[k] = v;
  }
  return { ...env, NO_UPDATE_NOTIFIER: '1', ...extra };
}

/** Starts a process in its own group (so a timeout can end its children too), output to `logFile`. */
async function start(cmd, args, { cwd, env, logFile }) {
  const out = await fs.open(logFile, 'a');
  const child = spawn(cmd, args, {
    cwd,
    env: env ?? cleanEnv(),
    stdio: ['ignore', out.fd, out.fd],
    detached: true,
  });
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      void out.close();
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      children.delete(child);
      void out.close();
      resolve({ code: null, signal: null, error: err });
    });
  });
  return child;
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves with how the process ended. */
async function stop(child, signal = 'SIGTERM', graceMs = LIMITS.kill) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  killGroup(child, signal);
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

async function tail(file, lines = 40) {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

/** Runs a command to completion within `timeoutMs`; throws with the tail of its output otherwise. */
async function run(cmd, args, { cwd, env, timeoutMs, logFile }) {
  const child = await start(cmd, args, { cwd, env, logFile });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stop(child, 'SIGTERM');
  }, timeoutMs);
  const { code, signal, error } = await child.exited;
  clearTimeout(timer);
  const what = `${path.basename(cmd)} ${args.join(' ')}`;
  if (error) throw new Error(`${what}: ${error.message}`);
  if (timedOut) throw new Error(`${what}: no result after ${secs(timeoutMs)}\n${await tail(logFile)}`);
  if (code !== 0) throw new Error(`${what}: exit ${code ?? signal}\n${await tail(logFile)}`);
  return fs.readFile(logFile, 'utf8');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** fetch with a bound; returns status, headers and the body (parsed when JSON). */
async function http(url, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(LIMITS.request),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  let json;
  if (type.includes('application/json')) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, type, text, json, headers: res.headers };
}

// ---------------------------------------------------------------- packages

async function newestMtime(dir, filter) {
  let newest = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    if (filter(file)) newest = Math.max(newest, (await fs.stat(file)).mtimeMs);
  }
  return newest;
}

async function listTarballs() {
  if (!existsSync(PACKAGES_DIR)) return [];
  return (await fs.readdir(PACKAGES_DIR))
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => path.join(PACKAGES_DIR, f));
}

/** Why the tarballs must be (re)built, or null when they are current. */
async function packReason(tarballs) {
  if (tarballs.length === 0) return 'dist/packages/ has no tarball';
  const oldest = Math.min(...(await Promise.all(tarballs.map(async (t) => (await fs.stat(t)).mtimeMs))));
  const sources = await newestMtime(path.join(ROOT, 'libs'), (f) => !/\.spec\.ts$|helper-spec\.ts$/.test(f));
  return sources > oldest ? 'libs/ changed after the tarballs were built' : null;
}

/** name → { version, file } from each tarball's own package.json. */
async function readTarballs(tarballs, tmp) {
  const found = new Map();
  for (const file of tarballs) {
    const logFile = path.join(tmp, 'tar.log');
    await fs.rm(logFile, { force: true });
    const text = await run('tar', ['-xOzf', file, 'package/package.json'], { timeoutMs: 10_000, logFile });
    const manifest = JSON.parse(text);
    if (found.has(manifest.name)) {
      throw new Error(
        `two tarballs for ${manifest.name} in dist/packages/ (${path.basename(found.get(manifest.name).file)}, ${path.basename(file)}); run npm run pack`,
      );
    }
    found.set(manifest.name, { version: manifest.version, file });
  }
  const missing = PACKAGE_NAMES.filter((n) => !found.has(n));
  check(missing.length === 0, `dist/packages/ lacks ${missing.join(', ')}; run npm run pack`);
  return found;
}

// ---------------------------------------------------------------- registry

/** The registry npm is configured with (a mirror, if the machine uses one): Verdaccio's uplink. */
async function upstreamRegistry(tmp) {
  const out = await run('npm', ['config', 'get', 'registry'], {
    cwd: tmp,
    timeoutMs: 30_000,
    logFile: path.join(tmp, 'npm-config.log'),
  });
  const url = out.trim().split('\n').at(-1) ?? '';
  return (url.startsWith('http') ? url : 'https://registry.npmjs.org/').replace(/\/?$/, '/');
}

async function startVerdaccio(tmp) {
  const upstream = await upstreamRegistry(tmp);
  const dir = path.join(tmp, 'verdaccio');
  await fs.mkdir(path.join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = [
    `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
    '    max_users: 1',
    'uplinks:',
    '  npmjs:',
    `    url: ${JSON.stringify(upstream)}`,
    '    timeout: 60s',
    // One run installs four apps: fetch each third-party packument once.
    '    maxage: 30m',
    'packages:',
    // Our scope: local storage only, never the public registry.
    "  '@reservoir/*':",
    '    access: $all',
    '    publish: $authenticated',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    '    proxy: npmjs',
    'web:',
    '  enable: false',
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n');
  const configFile = path.join(dir, 'config.yaml');
  await fs.writeFile(configFile, config);
  const bin = path.join(path.dirname(require.resolve('verdaccio/package.json')), 'bin/verdaccio');
  const logFile = path.join(dir, 'verdaccio.log');
  const child = await start(
    process.execPath,
    [bin, '--config', configFile, '--listen', `127.0.0.1:${port}`],
    {
      cwd: dir,
      logFile,
    },
  );
  const deadline = Date.now() + LIMITS.verdaccioStart;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`Verdaccio exited with ${child.exitCode}\n${await tail(logFile)}`);
    try {
      const res = await fetch(`${url}-/ping`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline)
      throw new Error(
        `Verdaccio did not answer ${url}-/ping within ${secs(LIMITS.verdaccioStart)}\n${await tail(logFile)}`,
      );
    await sleep(200);
  }
  return { child, url, dir, logFile, upstream };
}

/** Registers a user (the htpasswd file is ours) and returns an npmrc that can publish. */
async function publishConfig(registry) {
  const user = `ci-${RUN_ID}`;
  const res = await fetch(`${registry.url}-/user/org.couchdb.user:${user}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: user, password: randomBytes(12).toString('hex') }),
    signal: AbortSignal.timeout(LIMITS.request),
  });
  const body = await res.json().catch(() => ({}));
  check(
    res.status === 201 && typeof body.token === 'string',
    `Verdaccio refused the publish user: HTTP ${res.status} ${JSON.stringify(body)}`,
  );
  const npmrc = path.join(registry.dir, 'publish.npmrc');
  const host = registry.url.replace(/^http:/, '');
  await fs.writeFile(npmrc, `registry=${registry.url}\n${host}:_authToken=${body.token}\n`, { mode: 0o600 });
  return npmrc;
}

async function publishAll(registry, packages) {
  const npmrc = await publishConfig(registry);
  await Promise.all(
    [...packages].map(([name, { version, file }]) =>
      run(
        'npm',
        [
          'publish',
          file,
          '--registry',
          registry.url,
          '--userconfig',
          npmrc,
          '--access',
          'public',
          '--no-audit',
        ],
        {
          cwd: registry.dir,
          timeoutMs: LIMITS.publish,
          logFile: path.join(registry.dir, `publish-${name.replace('/', '+')}.log`),
        },
      ).then(() => log('registry', `published ${name}@${version}`)),
    ),
  );
  for (const [name, { version }] of packages) {
    const res = await http(`${registry.url}${name.replace('/', '%2f')}`);
    check(
      res.status === 200 && res.json?.versions?.[version],
      `registry does not serve ${name}@${version} (HTTP ${res.status})`,
    );
    const tarball = res.json.versions[version].dist?.tarball ?? '';
    check(tarball.startsWith(registry.url), `${name}@${version} tarball is not local: ${tarball}`);
  }
  // The scope is local only: an unknown @reservoir package must not be looked up upstream.
  const unknown = await http(`${registry.url}@reservoir%2fno-such-package-${RUN_ID}`);
  check(
    unknown.status === 404,
    `@reservoir/no-such-package answered ${unknown.status}, expected 404 (scope must not be proxied)`,
  );
}

// ---------------------------------------------------------------- PostgreSQL

/** Names and cleanup of everything this run creates in the cluster. */
class Cluster {
  constructor() {
    this.role = `reservoir_cons_${RUN_ID}`;
    this.password = randomBytes(12).toString('hex');
    this.databases = new Set();
    this.roleCreated = false;
  }

  async admin(database, fn) {
    const { Client } = require('pg');
    const url = new URL(ADMIN_URL);
    if (database) url.pathname = `/${database}`;
    const client = new Client({
      connectionString: url.toString(),
      connectionTimeoutMillis: LIMITS.sql,
      statement_timeout: LIMITS.sql,
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  url(database) {
    const url = new URL(ADMIN_URL);
    url.username = this.role;
    url.password = this.password;
    url.pathname = `/${database}`;
    return url.toString();
  }

  async createRole() {
    await this.admin(null, () => undefined).catch((err) => {
      const where = new URL(ADMIN_URL);
      where.password = '';
      throw new Error(
        `PostgreSQL at ${where} is not reachable (${err.message}). Start it, or set DATABASE_URL to a role that may create roles and databases.`,
        { cause: err },
      );
    });
    await this.admin(null, (c) =>
      c.query(
        `CREATE ROLE ${this.role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD '${this.password}'`,
      ),
    );
    this.roleCreated = true;
  }

  /** A database with an RLS table `notes` the role may read and write, plus one row of a third tenant. */
  async createAppDatabase(suffix) {
    const name = `${this.role}_${suffix}`;
    await this.admin(null, (c) => c.query(`CREATE DATABASE ${name}`));
    this.databases.add(name);
    await this.admin(name, async (c) => {
      await c.query(`
        CREATE TABLE notes (id serial PRIMARY KEY, organisation_id text NOT NULL, body text NOT NULL);
        GRANT SELECT, INSERT ON notes TO ${this.role};
        GRANT USAGE ON SEQUENCE notes_id_seq TO ${this.role};
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        ALTER TABLE notes FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON notes
          USING (organisation_id = NULLIF(current_setting('app.organisation_id', true), ''))
          WITH CHECK (organisation_id = NULLIF(current_setting('app.organisation_id', true), ''));
      `);
      await c.query('INSERT INTO notes (organisation_id, body) VALUES ($1, $2)', [HIDDEN_ORG, 'not yours']);
    });
    return name;
  }

  /** A name for a database the consumer creates and drops itself; dropped here too if it is left. */
  reserveDatabase(suffix) {
    const name = `${this.role}_${suffix}`;
    this.databases.add(name);
    return name;
  }

  async backends(applicationName) {
    return this.admin(null, async (c) => {
      const { rows } = await c.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      return rows[0].n;
    });
  }

  async exists(database) {
    return this.admin(
      null,
      async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount > 0,
    );
  }

  async cleanup() {
    const errors = [];
    for (const name of this.databases) {
      try {
        await this.admin(null, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      } catch (err) {
        errors.push(`drop database ${name}: ${err.message}`);
      }
    }
    if (this.roleCreated) {
      try {
        await this.admin(null, (c) => c.query(`DROP ROLE IF EXISTS ${this.role}`));
      } catch (err) {
        errors.push(`drop role ${this.role}: ${err.message}`);
      }
    }
    return errors;
  }
}

// ---------------------------------------------------------------- consumers

/** Copies the consumer out of the repository and points its dependencies at the packed versions. */
async function prepareApp(consumer, tmp, registry, packages) {
  const src = path.join(CONSUMERS_DIR, consumer.name);
  const dir = path.join(tmp, 'apps', consumer.name);
  await fs.cp(src, dir, {
    recursive: true,
    filter: (from) =>
      !/[/\\](node_modules|dist)([/\\]|$)/.test(
        path.relative(src, from) ? `/${path.relative(src, from)}` : '',
      ),
  });
  if (consumer.kind === 'nest') {
    // The three Nest apps run the same application code (nest-shared/) and differ only in their
    // manifest, tsconfig and main.ts (CommonJS bootstrap vs top-level await): one copy to keep true.
    await fs.cp(SHARED_NEST_DIR, path.join(dir, 'src'), { recursive: true });
  }
  const manifestFile = path.join(dir, 'package.json');
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8'));
  const ours = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }).filter((n) =>
    n.startsWith('@reservoir/'),
  );
  check(ours.length > 0, `${consumer.name}/package.json names no @reservoir package`);
  for (const name of ours) {
    const packed = packages.get(name);
    check(packed, `${consumer.name} depends on ${name}, which dist/packages/ does not have`);
    const field = manifest.dependencies?.[name] !== undefined ? 'dependencies' : 'devDependencies';
    manifest[field][name] = packed.version;
  }
  await fs.writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  // What a user would commit: the app's registry, so a plain `npm install` resolves by name from it.
  await fs.writeFile(path.join(dir, '.npmrc'), `registry=${registry.url}\naudit=false\nfund=false\n`);
  return { dir, ours, manifest };
}

/** name → every directory under node_modules (nested ones included) that holds that package. */
async function installedCopies(appDir, names) {
  const found = new Map(names.map((n) => [n, []]));
  const root = path.join(appDir, 'node_modules');
  for (const entry of await fs.readdir(root, { recursive: true })) {
    const rel = entry.split(path.sep).join('/');
    for (const name of names) {
      if (rel === `${name}/package.json` || rel.endsWith(`/node_modules/${name}/package.json`)) {
        found.get(name).push(path.posix.join('node_modules', path.posix.dirname(rel)));
      }
    }
  }
  return found;
}

async function installAndBuild(consumer, app, registry, packages) {
  const scope = consumer.name;
  await step(scope, `npm install (${app.ours.join(', ')} by name from ${registry.url})`, () =>
    run('npm', ['install', '--no-audit', '--no-fund', '--registry', registry.url], {
      cwd: app.dir,
      timeoutMs: LIMITS.install,
      logFile: path.join(app.dir, 'install.log'),
    }),
  );
  for (const name of PACKAGE_NAMES) {
    const file = path.join(app.dir, 'node_modules', name, 'package.json');
    if (!existsSync(file)) continue;
    const { version } = JSON.parse(await fs.readFile(file, 'utf8'));
    check(
      version === packages.get(name).version,
      `${name} installed at ${version}, packed ${packages.get(name).version}`,
    );
  }
  // One copy each: a second @reservoir/tenant would carry its own AsyncLocalStorage (tenants lost
  // between packages), a second @nestjs/core its own DI container.
  const copies = await installedCopies(app.dir, [...PACKAGE_NAMES, '@nestjs/core', '@nestjs/common']);
  for (const [name, dirs] of copies) {
    check(dirs.length <= 1, `${name} is installed ${dirs.length} times: ${dirs.join(', ')}`);
  }
  if (consumer.kind === 'plain') {
    const nest = path.join(app.dir, 'node_modules', '@nestjs');
    check(
      !existsSync(nest),
      `plain-node has node_modules/@nestjs (${existsSync(nest) ? (await fs.readdir(nest)).join(', ') : ''}): a Nest package is a required dependency of what it installed`,
    );
    log(scope, 'ok   no @nestjs/* package installed');
  }
  const tsc = path.join(app.dir, 'node_modules/typescript/bin/tsc');
  check(existsSync(tsc), `${scope} has no typescript in its devDependencies`);
  await step(scope, 'tsc (strict, skipLibCheck: false)', async () => {
    const config = JSON.parse(await fs.readFile(path.join(app.dir, 'tsconfig.json'), 'utf8'));
    check(
      config.compilerOptions?.strict === true && config.compilerOptions?.skipLibCheck === false,
      `${scope}/tsconfig.json must set strict: true and skipLibCheck: false`,
    );
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], {
      cwd: app.dir,
      timeoutMs: LIMITS.build,
      logFile: path.join(app.dir, 'tsc.log'),
    });
  });
}

/** Starts a Nest consumer and waits until it answers /health (any status) or exits. */
async function startNestApp(app, env) {
  const logFile = path.join(app.dir, 'app.log');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = await start(process.execPath, ['dist/main.js'], {
    cwd: app.dir,
    env: cleanEnv({ ...env, PORT: String(port), NO_COLOR: '1' }),
    logFile,
  });
  const deadline = Date.now() + LIMITS.appStart;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `app exited (${child.exitCode ?? child.signalCode}) before it answered\n${await tail(logFile)}`,
      );
    try {
      await fetch(`${base}/health`, { signal: AbortSignal.timeout(1_000) });
      break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline)
      throw new Error(
        `app did not answer ${base}/health within ${secs(LIMITS.appStart)}\n${await tail(logFile)}`,
      );
    await sleep(200);
  }
  return { child, base, logFile };
}

async function checkNestApp(scope, server) {
  const { base } = server;
  const org = (id) => ({ 'x-organisation-id': id });

  await step(scope, 'GET /health: pool and lazy indicators up', async () => {
    const res = await http(`${base}/health`);
    check(
      res.status === 200 && res.json?.status === 'ok',
      `/health answered ${res.status} ${res.text.slice(0, 400)}`,
    );
    check(
      res.json.info?.pool?.status === 'up' && res.json.info.pool.pool === 'main',
      `/health has no pool indicator "main" up: ${res.text.slice(0, 400)}`,
    );
    check(
      res.json.info?.lazy?.status === 'up',
      `/health has no lazy indicator up: ${res.text.slice(0, 400)}`,
    );
  });

  await step(scope, 'tenant routes: writes and reads stay inside each organisation (RLS)', async () => {
    for (const id of ORGS) {
      const res = await http(`${base}/notes`, {
        method: 'POST',
        headers: org(id),
        body: { body: `hello from ${id}` },
      });
      check(
        res.status === 201 && res.json?.organisation_id === id,
        `POST /notes as ${id}: ${res.status} ${res.text.slice(0, 300)}`,
      );
    }
    for (const id of ORGS) {
      const res = await http(`${base}/notes`, { headers: org(id) });
      check(
        res.status === 200 && Array.isArray(res.json),
        `GET /notes as ${id}: ${res.status} ${res.text.slice(0, 300)}`,
      );
      const orgs = [...new Set(res.json.map((n) => n.organisation_id))];
      check(
        res.json.length === 1 && orgs.length === 1 && orgs[0] === id,
        `GET /notes as ${id} saw ${JSON.stringify(res.json)}`,
      );
    }
    // A tenant that never wrote sees nothing, not even the row seeded for another organisation.
    const other = await http(`${base}/notes`, { headers: org('umbrella') });
    check(
      other.status === 200 && Array.isArray(other.json) && other.json.length === 0,
      `GET /notes as umbrella saw ${other.text.slice(0, 300)}`,
    );
  });

  await step(scope, '@LazyResource: one load per organisation, then cached', async () => {
    const first = await http(`${base}/profile`, { headers: org('acme') });
    const again = await http(`${base}/profile`, { headers: org('acme') });
    const globex = await http(`${base}/profile`, { headers: org('globex') });
    for (const r of [first, again, globex])
      check(r.status === 200 && r.json, `GET /profile: ${r.status} ${r.text.slice(0, 300)}`);
    check(first.json.organisationId === 'acme' && first.json.notes === 1, `profile for acme: ${first.text}`);
    check(
      again.json.load === first.json.load,
      `second GET /profile loaded again (${first.json.load} → ${again.json.load})`,
    );
    check(
      globex.json.organisationId === 'globex' && globex.json.load !== first.json.load,
      `globex got acme's cached profile: ${globex.text}`,
    );
  });

  await step(scope, 'bad tenant input: 400 JSON, handler never runs', async () => {
    const cases = [
      { headers: {}, code: 'TENANT_REQUIRED', what: 'no header' },
      { headers: org('not valid!'), code: 'TENANT_INVALID', what: 'an id with a space and "!"' },
      { headers: org('x'.repeat(65)), code: 'TENANT_INVALID', what: 'a 65-character id' },
    ];
    for (const c of cases) {
      const res = await http(`${base}/notes`, {
        method: 'POST',
        headers: c.headers,
        body: { body: 'must not be written' },
      });
      check(res.status === 400, `${c.what}: HTTP ${res.status}, expected 400: ${res.text.slice(0, 300)}`);
      check(
        res.type.includes('application/json') &&
          res.json?.statusCode === 400 &&
          res.json.code === c.code &&
          typeof res.json.message === 'string',
        `${c.what}: expected JSON { statusCode: 400, code: ${c.code}, message }, got ${res.type} ${res.text.slice(0, 300)}`,
      );
    }
    for (const id of ORGS) {
      const res = await http(`${base}/notes`, { headers: org(id) });
      check(
        res.json?.length === 1,
        `a rejected request wrote a row: ${id} now has ${res.text.slice(0, 300)}`,
      );
    }
  });

  await step(scope, 'GET /metrics: pool and lazy series', async () => {
    const res = await http(`${base}/metrics`);
    check(
      res.status === 200 && res.type.startsWith('text/plain'),
      `/metrics answered ${res.status} ${res.type}`,
    );
    for (const needle of [
      'reservoir_pool_connections{pool="main",state="active"}',
      'reservoir_pool_acquires_total{pool="main"}',
      'reservoir_lazy_loads_total{resource="ProfileService.profile"} 2',
    ]) {
      check(res.text.includes(needle), `/metrics lacks ${needle}`);
    }
  });
}

async function runNest(consumer, ctx) {
  const scope = consumer.name;
  const database = await step(scope, 'database with an RLS table', () =>
    ctx.cluster.createAppDatabase(consumer.name.replace(/\W/g, '_')),
  );
  const app = await step(scope, `copy to a temp dir outside the repository`, () =>
    prepareApp(consumer, ctx.tmp, ctx.registry, ctx.packages),
  );
  await installAndBuild(consumer, app, ctx.registry, ctx.packages);
  const applicationName = `reservoir-consumer-${consumer.name}-${RUN_ID}`;
  const server = await step(scope, 'start the app', () =>
    startNestApp(app, { DATABASE_URL: ctx.cluster.url(database), APP_NAME: applicationName }),
  );
  try {
    await checkNestApp(scope, server);
    await step(scope, 'SIGTERM: clean exit, no backend left', async () => {
      const { code, signal } = await stop(server.child, 'SIGTERM', LIMITS.appStop);
      // enableShutdownHooks() runs the hooks, then re-raises the signal: ending by SIGTERM is normal.
      check(code === 0 || signal === 'SIGTERM', `app ended with ${code ?? signal} on SIGTERM`);
      const report = (await fs.readFile(server.logFile, 'utf8')).match(
        /consumer pool closed: main size=(\d+) created=(\d+) destroyed=(\d+)/,
      );
      check(report, 'the app never reported its pool closed: SIGTERM did not run the shutdown hooks');
      check(report[1] === '0' && report[2] === report[3], `pool not drained on SIGTERM: ${report[0]}`);
      const deadline = Date.now() + LIMITS.backendsGone;
      let left = await ctx.cluster.backends(applicationName);
      while (left > 0 && Date.now() < deadline) {
        await sleep(100);
        left = await ctx.cluster.backends(applicationName);
      }
      check(left === 0, `${left} backend(s) of ${applicationName} still open after exit`);
    });
  } catch (err) {
    if (!(err instanceof CheckError)) throw err;
    throw new Error(`${err.message}\n--- app log ---\n${await tail(server.logFile)}`, { cause: err });
  } finally {
    await stop(server.child, 'SIGKILL');
  }
}

async function runPlain(consumer, ctx) {
  const scope = consumer.name;
  const database = ctx.cluster.reserveDatabase('plain');
  const app = await step(scope, `copy to a temp dir outside the repository`, () =>
    prepareApp(consumer, ctx.tmp, ctx.registry, ctx.packages),
  );
  await installAndBuild(consumer, app, ctx.registry, ctx.packages);
  const output = await step(
    scope,
    'run: pool/core (pgClientFactory, pgTenantBinding), tenant/core scope, lazy/core cache',
    () =>
      run(process.execPath, ['dist/main.js'], {
        cwd: app.dir,
        env: cleanEnv({
          ADMIN_DATABASE_URL: ADMIN_URL,
          APP_DATABASE: database,
          APP_ROLE: ctx.cluster.role,
          APP_PASSWORD: ctx.cluster.password,
        }),
        timeoutMs: LIMITS.plainRun,
        logFile: path.join(app.dir, 'app.log'),
      }),
  );
  const last = output.trimEnd().split('\n').at(-1) ?? '';
  let report;
  try {
    report = JSON.parse(last);
  } catch {
    throw new Error(`plain-node printed no JSON report:\n${output.slice(-2000)}`);
  }
  check(report.ok === true, `plain-node reported failure: ${last}`);
  check(
    Array.isArray(report.nestModulesLoaded) && report.nestModulesLoaded.length === 0,
    `plain-node loaded Nest modules: ${last}`,
  );
  check(
    report.rowsSeen?.acme?.join() === 'acme' && report.rowsSeen?.globex?.join() === 'globex',
    `plain-node: RLS rows per tenant wrong: ${last}`,
  );
  check(
    report.inScope?.acme?.rows?.join() === 'acme' && report.inScope?.globex?.rows?.join() === 'globex',
    `plain-node: a TenantContext scope did not reach the pool: ${last}`,
  );
  check(
    report.lazyLoads === 2,
    `plain-node: LazyLoaderCore loaded ${report.lazyLoads} times, expected once per tenant`,
  );
  check(!(await ctx.cluster.exists(database)), `plain-node left its database ${database} behind`);
  log(scope, `ok   report: ${last}`);
}

// ---------------------------------------------------------------- main

async function main() {
  const args = process.argv.slice(2);
  const noPack = args.includes('--no-pack');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((w) => !CONSUMERS.some((c) => c.name === w));
  if (unknown.length) {
    console.error(
      `unknown consumer(s): ${unknown.join(', ')}; known: ${CONSUMERS.map((c) => c.name).join(', ')}`,
    );
    return 2;
  }
  const selected = wanted.length ? CONSUMERS.filter((c) => wanted.includes(c.name)) : CONSUMERS;
  const concurrency = Math.max(1, Number(process.env.CONSUMERS_CONCURRENCY ?? 2) || 1);

  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reservoir-consumers-'));
  const cluster = new Cluster();
  let registry;
  const results = new Map();
  let cleaning;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const child of [...children]) await stop(child, 'SIGTERM');
      const errors = await cluster.cleanup().catch((err) => [err.message]);
      await fs.rm(tmp, { recursive: true, force: true });
      for (const e of errors) log('cleanup', `FAIL ${e}`);
      log(
        'cleanup',
        `${errors.length ? 'incomplete' : 'ok  '} processes stopped, role and databases dropped, ${tmp} removed`,
      );
      return errors.length === 0;
    })());
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log('consumers', `${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    // PostgreSQL first: a missing database should fail in a second, not after a pack and a publish.
    await step('postgres', `role ${cluster.role} (not a superuser, not a table owner)`, () =>
      cluster.createRole(),
    );

    let tarballs = await listTarballs();
    const reason = noPack ? null : await packReason(tarballs);
    if (reason) {
      await step('pack', `npm run pack (${reason})`, () =>
        run('npm', ['run', 'pack'], {
          cwd: ROOT,
          timeoutMs: LIMITS.pack,
          logFile: path.join(tmp, 'pack.log'),
        }),
      );
      tarballs = await listTarballs();
    }
    const packages = await readTarballs(tarballs, tmp);
    log('pack', `using ${[...packages].map(([n, p]) => `${n}@${p.version}`).join(', ')}`);

    registry = await step('registry', 'start Verdaccio (storage in a temp dir)', () => startVerdaccio(tmp));
    log('registry', `${registry.url} (uplink ${registry.upstream} for everything but @reservoir/*)`);
    await step('registry', 'publish every tarball', () => publishAll(registry, packages));

    const ctx = { tmp, registry, packages, cluster };
    const queue = [...selected];
    const worker = async () => {
      for (let consumer = queue.shift(); consumer; consumer = queue.shift()) {
        const started = performance.now();
        try {
          await (consumer.kind === 'nest' ? runNest(consumer, ctx) : runPlain(consumer, ctx));
          results.set(consumer.name, { ok: true, ms: performance.now() - started });
        } catch (err) {
          results.set(consumer.name, { ok: false, ms: performance.now() - started, error: err });
          log(consumer.name, `FAIL ${err.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, selected.length) }, worker));
  } catch (err) {
    log('consumers', `FAIL ${err.message}`);
    if (registry) log('registry', `--- verdaccio log ---\n${await tail(registry.logFile, 20)}`);
    results.set('setup', { ok: false, ms: 0, error: err });
  } finally {
    const clean = await cleanup();
    if (!clean) results.set('cleanup', { ok: false, ms: 0 });
  }

  console.log('\nconsumer      result  time');
  for (const c of selected) {
    const r = results.get(c.name);
    console.log(`${c.name.padEnd(13)} ${r ? (r.ok ? 'pass' : 'FAIL') : 'skip'}    ${r ? secs(r.ms) : '-'}`);
  }
  const passed = selected.filter((c) => results.get(c.name)?.ok).length;
  // A consumer that never ran (setup failed) counts as failed; so does an incomplete cleanup.
  const failed = selected.length - passed + (results.get('cleanup') ? 1 : 0);
  console.log(`total ${secs(performance.now() - t0)}`);
  console.log(`consumers: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
