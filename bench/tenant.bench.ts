/**
 * npm run bench:tenant: what a tenant context costs per HTTP request, on Express and on Fastify.
 *
 * Each case is a fresh server child pinned to core 0 (`taskset -c 0`), loaded by autocannon in this
 * process pinned to core 1, on loopback. Rounds are interleaved (every case once per round) and we
 * report medians of req/s, p99 latency and server CPU µs per request (the child's
 * process.cpuUsage() delta over the measured run, read over IPC, divided by completed requests).
 *
 * Env: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (50).
 */
import 'reflect-metadata';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CallHandler,
  Controller,
  type ExecutionContext,
  Get,
  Inject,
  Injectable,
  Module,
  type NestInterceptor,
  Scope,
  type Type,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory, REQUEST } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ClsModule, ClsService } from 'nestjs-cls';
import { Observable } from 'rxjs';
import { TenantContext, TenantModule } from '@reservoir/tenant';
import { machineLine, median, writeSection } from './lib/harness';

const HEADER = 'x-organisation-id';

const CASES = [
  'bare',
  'no-op interceptor',
  'no-op interceptor, ALS on',
  'TenantInterceptor',
  'naive ALS interceptor',
  'Scope.REQUEST',
  'nestjs-cls 7',
] as const;
type CaseName = (typeof CASES)[number];
const ADAPTERS = ['Express', 'Fastify'] as const;
type AdapterName = (typeof ADAPTERS)[number];

// ---------------------------------------------------------------- server side (child process)

@Controller('t')
class BareController {
  @Get()
  get() {
    return 'acme';
  }
}

@Controller('t')
class TenantController {
  constructor(private readonly tenant: TenantContext) {}
  @Get()
  get() {
    return this.tenant.organisationId;
  }
}

/** The floor for any interceptor design: Nest's own interceptor pipeline, doing nothing. */
@Injectable()
class NoopInterceptor implements NestInterceptor {
  intercept(_ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}
@Controller('t')
@UseInterceptors(NoopInterceptor)
class NoopController {
  @Get()
  get() {
    return 'acme';
  }
}

/** The naive design: wrap the handler's Observable in als.run on subscribe. */
const naiveStore = new AsyncLocalStorage<string>();
@Injectable()
class NaiveAlsInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const id = ctx.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers[HEADER];
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]+$/.test(id) || id.length > 64) throw new Error('bad');
    return new Observable((sub) => naiveStore.run(id, () => next.handle().subscribe(sub)));
  }
}
@Controller('t')
@UseInterceptors(NaiveAlsInterceptor)
class NaiveController {
  @Get()
  get() {
    return naiveStore.getStore();
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestTenant {
  readonly id: string | undefined;
  constructor(@Inject(REQUEST) req: { headers: Record<string, string | undefined> }) {
    this.id = req.headers[HEADER];
  }
}
@Controller('t')
class RequestScopedController {
  constructor(private readonly tenant: RequestTenant) {}
  @Get()
  get() {
    return this.tenant.id;
  }
}

@Controller('t')
class ClsController {
  constructor(private readonly cls: ClsService) {}
  @Get()
  get() {
    return this.cls.get<string>('tenant');
  }
}

function moduleFor(name: CaseName): Type<unknown> {
  switch (name) {
    case 'bare': {
      @Module({ controllers: [BareController] })
      class M {}
      return M;
    }
    case 'no-op interceptor':
    case 'no-op interceptor, ALS on': {
      @Module({ controllers: [NoopController], providers: [NoopInterceptor] })
      class M {}
      return M;
    }
    case 'TenantInterceptor': {
      @Module({ imports: [TenantModule.forRoot()], controllers: [TenantController] })
      class M {}
      return M;
    }
    case 'naive ALS interceptor': {
      @Module({ controllers: [NaiveController], providers: [NaiveAlsInterceptor] })
      class M {}
      return M;
    }
    case 'Scope.REQUEST': {
      @Module({ controllers: [RequestScopedController], providers: [RequestTenant] })
      class M {}
      return M;
    }
    case 'nestjs-cls 7': {
      @Module({
        imports: [
          ClsModule.forRoot({
            global: true,
            middleware: {
              mount: true,
              setup: (cls, req: { headers: Record<string, string | undefined> }) =>
                cls.set('tenant', req.headers[HEADER]),
            },
          }),
        ],
        controllers: [ClsController],
      })
      class M {}
      return M;
    }
  }
}

async function serve(adapter: AdapterName, name: CaseName): Promise<void> {
  // Isolates the price of Node 20's AsyncLocalStorage: once any store is entered, a promise hook runs
  // for every promise and async resource the process creates (Nest's pipeline creates several per
  // request), whether or not the code uses the store. The no-op interceptor with that switched on is
  // the floor for any AsyncLocalStorage-based design on Node 20.
  if (name === 'no-op interceptor, ALS on') new AsyncLocalStorage<number>().enterWith(1);
  const app = await NestFactory.create(
    moduleFor(name),
    adapter === 'Express' ? new ExpressAdapter() : new FastifyAdapter(),
    { logger: ['error'] },
  );
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  process.on('message', (msg: string) => {
    if (msg === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpu: u.user + u.system });
    } else if (msg === 'stop') {
      void app.close().then(() => process.exit(0));
    }
  });
  process.send!({ port });
}

// ---------------------------------------------------------------- load side (this process)

interface Run {
  rps: number;
  p99: number;
  cpuPerReq: number;
}

/**
 * dist/bench is shared: another bench:* run rebuilds it while ours is running. So the server
 * children run from a private snapshot of the compiled output taken at start, with their own alias hook.
 */
let launcher = '';
function snapshotBuild(): () => void {
  const src = join(__dirname, '..');
  const snap = join(src, '..', `tenant-bench-${process.pid}`);
  cpSync(src, snap, { recursive: true });
  launcher = join(snap, 'launch.js');
  writeFileSync(
    launcher,
    `'use strict';
const path = require('node:path');
const Module = require('node:module');
const aliases = /^@reservoir\\/(core|pool|tenant|lazy)(\\/.*)?$/;
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = aliases.exec(request);
  if (m) request = path.join(__dirname, 'libs', m[1], 'src', m[2] || '');
  return resolve.call(this, request, ...rest);
};
require(path.join(__dirname, 'bench', 'tenant.bench.js'));
`,
  );
  return () => rmSync(snap, { recursive: true, force: true });
}

function startServer(adapter: AdapterName, name: CaseName): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('taskset', ['-c', '0', process.execPath, launcher, '--server', adapter, name], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`server ${adapter}/${name} exited with ${code}`)));
  });
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpu: number }) => resolve(m.cpu));
    child.send('cpu');
  });
}

// autocannon ships no types; the slice used here.
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

async function load(port: number, seconds: number): Promise<AutocannonResult> {
  const res = await autocannon({
    url: `http://127.0.0.1:${port}/t`,
    connections: Number(process.env.BENCH_CONNECTIONS || 50),
    duration: seconds,
    headers: { [HEADER]: 'acme' },
  });
  if (res.non2xx > 0 || res.errors > 0) throw new Error(`non-2xx ${res.non2xx}, errors ${res.errors}`);
  return res;
}

async function measure(adapter: AdapterName, name: CaseName, seconds: number, warmup: number): Promise<Run> {
  const { child, port } = await startServer(adapter, name);
  try {
    await load(port, warmup);
    const cpu0 = await cpuOf(child);
    const res = await load(port, seconds);
    const cpu1 = await cpuOf(child);
    return {
      rps: res.requests.average,
      p99: res.latency.p99,
      cpuPerReq: (cpu1 - cpu0) / Math.max(1, res.requests.total),
    };
  } finally {
    child.removeAllListeners('exit');
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.send('stop');
    });
  }
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
  const rounds = Number(process.env.BENCH_ROUNDS || 3);
  const seconds = Number(process.env.BENCH_SECONDS || 5);
  const warmup = Number(process.env.BENCH_WARMUP_SECONDS || 2);
  const runs = new Map<string, Run[]>();
  const cleanup = snapshotBuild();
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const adapter of ADAPTERS) {
        for (const name of CASES) {
          const run = await measure(adapter, name, seconds, warmup);
          const key = `${adapter}|${name}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
          console.log(
            `round ${r} ${adapter.padEnd(7)} ${name.padEnd(22)} ${fmt(run.rps).padStart(7)} req/s  p99 ${run.p99} ms  ${fmt(run.cpuPerReq)} µs CPU/req`,
          );
        }
      }
    }
  } finally {
    cleanup();
  }

  const sections: string[] = [
    '## Tenant context per HTTP request (`npm run bench:tenant`)',
    '',
    machineLine(),
    '',
    `autocannon -c ${process.env.BENCH_CONNECTIONS || 50} -d ${seconds} (after a ${warmup} s warm-up) on loopback; ` +
      `server child pinned to core 0, autocannon to core 1 (\`taskset\`); ${rounds} interleaved rounds, a fresh server per run; medians. ` +
      'Every handler returns the 4-byte tenant id; "bare" and "no-op interceptor" return a constant. ' +
      '"no-op interceptor" (`return next.handle()`) is the floor for any interceptor-based design: Nest\'s own interceptor pipeline. ' +
      "Rounds on these shared 2-vCPU machines vary by ±15–25 %, so compare medians and CPU µs per request. CPU µs/req is the server process's " +
      'user+system CPU over the measured run divided by completed requests.',
    '',
  ];
  for (const adapter of ADAPTERS) {
    const med = (name: CaseName) => {
      const rs = runs.get(`${adapter}|${name}`)!;
      return {
        rps: median(rs.map((x) => x.rps)),
        p99: median(rs.map((x) => x.p99)),
        cpu: median(rs.map((x) => x.cpuPerReq)),
        rounds: rs.map((x) => fmt(x.rps)).join(', '),
      };
    };
    const bare = med('bare');
    const req = med('Scope.REQUEST');
    const cls = med('nestjs-cls 7');
    sections.push(
      `### ${adapter}`,
      '',
      '| case | req/s (median) | rounds | p99 ms | server CPU µs/req | × bare | × Scope.REQUEST | × nestjs-cls |',
      '|---|---:|---|---:|---:|---:|---:|---:|',
    );
    for (const name of CASES) {
      const m = med(name);
      sections.push(
        `| ${name} | ${fmt(m.rps)} | ${m.rounds} | ${fmt(m.p99, 1)} | ${fmt(m.cpu)} | ${(m.rps / bare.rps).toFixed(2)}× | ${(m.rps / req.rps).toFixed(2)}× | ${(m.rps / cls.rps).toFixed(2)}× |`,
      );
    }
    const ti = med('TenantInterceptor');
    const floor = med('no-op interceptor');
    const alsFloor = med('no-op interceptor, ALS on');
    const check = (label: string, ratio: number, want: number) =>
      `- TenantInterceptor ${label}: **${ratio.toFixed(2)}×** (target ≥ ${want}×, ${ratio >= want ? 'met' : `missed by ${Math.round((1 - ratio / want) * 100)} %`})`;
    sections.push(
      '',
      check('vs the no-op interceptor', ti.rps / floor.rps, 0.95),
      check('vs nestjs-cls 7', ti.rps / cls.rps, 1.3),
      `- TenantInterceptor vs bare: ${(ti.rps / bare.rps).toFixed(2)}×; vs Scope.REQUEST: ${(ti.rps / req.rps).toFixed(2)}×.`,
      `- Server CPU per request over the no-op interceptor: TenantInterceptor +${fmt(ti.cpu - floor.cpu)} µs; ` +
        `the no-op interceptor with AsyncLocalStorage merely switched on +${fmt(alsFloor.cpu - floor.cpu)} µs. ` +
        `TenantInterceptor reaches ${(ti.rps / alsFloor.rps).toFixed(2)}× of that AsyncLocalStorage floor.`,
      '',
    );
  }
  const text = sections.join('\n');
  console.log(text);
  writeSection('tenant', text);
}

if (process.argv[2] === '--server') {
  void serve(process.argv[3] as AdapterName, process.argv[4] as CaseName);
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
