/**
 * `npm run bench:autosize`: a deterministic simulator for pool auto-sizing. The REAL `Pool` runs on a
 * virtual clock (bench/autosize/virtual-clock.ts) against a database model with Universal
 * Scalability Law service times and a configurable slowdown; arrivals are seeded Poisson. Each
 * scenario is run with a fixed large `max`, with every size of a sweep (the best fixed size is
 * picked from it) and with `autoSize: true`. Prints the table, writes SVG plots into docs/.
 *
 * Flags: --quick (shorter scenarios, smaller sweep), --only=<scenario>, --no-plots.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, silentPoolLogger, type AutoSizeOptions } from '@reservoir/pool';
import { VirtualClock } from './autosize/virtual-clock';
import { Arrivals, SimDatabase, type DbModel } from './autosize/model';
import { chart, type Series } from './autosize/svg';
import { FakeLeaseStore } from './autosize/lease-store';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
const plots = !args.includes('--no-plots');
/** --auto='{"littleSafety":4}' passes AutoSizeOptions to the autoSize runs (for tuning). */
const autoOptions = JSON.parse(args.find((a) => a.startsWith('--auto='))?.slice(7) ?? 'true') as
  true | AutoSizeOptions;
const SEED = 12;
const ACQUIRE_TIMEOUT_MS = 5000;
const FIXED_MAX = 100;
const S = 1000;

interface Scenario {
  name: string;
  title: string;
  durationMs: number;
  rate: (t: number) => number;
  peakRate: number;
  slowdown: (t: number) => number;
  /** USL coherency term over time; default 0.0001. */
  kappa?: (t: number) => number;
  /** The window used for "steady state" figures (adjustments/min), ms. */
  steadyFrom: number;
  steadyTo: number;
  /** A window of interest: the limit must not rise in it (slowdown). */
  watch?: [number, number];
}

const scale = quick ? 0.5 : 1;
const dur = (ms: number) => ms * scale;

const scenarios: Scenario[] = [
  {
    name: 'steady',
    title: 'Steady load: 200 req/s',
    durationMs: dur(300 * S),
    rate: () => 200,
    peakRate: 200,
    slowdown: () => 1,
    steadyFrom: dur(120 * S),
    steadyTo: dur(300 * S),
  },
  {
    name: 'spike',
    title: '10x spike: 100 -> 1000 req/s for 30 s',
    durationMs: dur(300 * S),
    rate: (t) => (t >= dur(120 * S) && t < dur(120 * S) + 30 * S ? 1000 : 100),
    peakRate: 1000,
    slowdown: () => 1,
    steadyFrom: dur(60 * S),
    steadyTo: dur(120 * S),
  },
  {
    name: 'slowdown',
    title: 'Database 5x slower for 60 s at 200 req/s',
    durationMs: dur(300 * S),
    rate: () => 200,
    peakRate: 200,
    slowdown: (t) => (t >= dur(120 * S) && t < dur(120 * S) + 60 * S ? 5 : 1),
    steadyFrom: dur(60 * S),
    steadyTo: dur(120 * S),
    watch: [dur(120 * S), dur(120 * S) + 60 * S],
  },
  {
    // The shape of HikariCP's reported slowdown case: the slowdown comes with contention inside the database (κ 100× larger,
    // so throughput peaks at about 10 concurrent queries and falls beyond), and more connections make it worse.
    name: 'slowdown-contended',
    title: 'Database 5x slower and lock-contended (USL kappa 0.01) for 60 s at 200 req/s',
    durationMs: dur(300 * S),
    rate: () => 200,
    peakRate: 200,
    slowdown: (t) => (t >= dur(120 * S) && t < dur(120 * S) + 60 * S ? 5 : 1),
    kappa: (t) => (t >= dur(120 * S) && t < dur(120 * S) + 60 * S ? 0.01 : 0.0001),
    steadyFrom: dur(60 * S),
    steadyTo: dur(120 * S),
    watch: [dur(120 * S), dur(120 * S) + 60 * S],
  },
  {
    name: 'oscillation',
    title: 'Slow oscillation: 50..350 req/s, period 300 s',
    durationMs: dur(600 * S),
    rate: (t) => 200 + 150 * Math.sin((2 * Math.PI * t) / (300 * S)),
    peakRate: 350,
    slowdown: () => 1,
    steadyFrom: dur(60 * S),
    steadyTo: dur(600 * S),
  },
];

function dbModel(sc: Scenario): DbModel {
  return { baseMs: 20, sigma: 0.01, kappa: sc.kappa ?? (() => 0.0001), connectMs: 5, slowdown: sc.slowdown };
}

interface Config {
  label: string;
  max: number;
  auto: boolean;
}

interface Result {
  config: Config;
  p99: number;
  throughput: number;
  timeouts: number;
  meanConnections: number;
  maxConnections: number;
  adjustmentsPerMin: number;
  steadyAdjustmentsPerMin: number;
  /** Highest limit inside the watched window minus the limit at its start (<= 0: did not rise). */
  watchRise: number | undefined;
  series: { t: number; size: number; limit: number; p99: number }[];
}

function p99Of(values: number[]): number {
  if (values.length === 0) return 0;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)];
}

async function run(sc: Scenario, config: Config): Promise<Result> {
  const clock = new VirtualClock();
  clock.install(SEED);
  try {
    const db = new SimDatabase(dbModel(sc), () => clock.now);
    const pool = new Pool<{ id: number }>({
      name: `${sc.name}-${config.label}`,
      factory: { create: () => db.connect(), destroy: () => db.disconnect() },
      min: 0,
      max: config.max,
      acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      idleTimeoutMs: 60_000,
      maxLifetimeMs: 0,
      logger: silentPoolLogger,
      autoSize: config.auto ? autoOptions : undefined,
    });
    const arrivals = new Arrivals(SEED + 1, sc.rate, sc.peakRate);
    const waits: number[] = [];
    let bucket: number[] = [];
    let completed = 0;
    let timeouts = 0;
    const series: Result['series'] = [];
    const adjustmentsAt: number[] = [];
    let lastAdj = 0;

    const request = () => {
      const t0 = clock.now;
      pool.acquire().then(
        async (c) => {
          const w = clock.now - t0;
          waits.push(w);
          bucket.push(w);
          await db.query();
          pool.release(c);
          completed++;
        },
        () => {
          timeouts++;
          waits.push(ACQUIRE_TIMEOUT_MS);
          bucket.push(ACQUIRE_TIMEOUT_MS);
        },
      );
    };
    const fire = () => {
      request();
      const next = arrivals.next(clock.now);
      if (next < sc.durationMs) setTimeout(fire, next - clock.now);
    };
    setTimeout(fire, arrivals.next(0));
    let sizeSum = 0;
    let samples = 0;
    let maxConnections = 0;
    const sampler = setInterval(() => {
      const s = pool.stats();
      const adj = s.autoSize?.adjustments ?? 0;
      for (let i = lastAdj; i < adj; i++) adjustmentsAt.push(clock.now);
      lastAdj = adj;
      sizeSum += s.size;
      samples++;
      if (s.size > maxConnections) maxConnections = s.size;
      series.push({ t: clock.now / S, size: s.size, limit: s.autoSize?.limit ?? s.max, p99: p99Of(bucket) });
      bucket = [];
    }, S);
    await clock.runUntil(sc.durationMs);
    clearInterval(sampler);
    const closing = pool.close();
    await clock.runUntil(sc.durationMs + 60 * S);
    await closing;

    const minutes = sc.durationMs / 60_000;
    const steadyAdj = adjustmentsAt.filter((t) => t >= sc.steadyFrom && t < sc.steadyTo).length;
    let watchRise: number | undefined;
    if (sc.watch !== undefined && config.auto) {
      const [a, b] = sc.watch;
      const start = series.filter((p) => p.t * S <= a).at(-1)?.limit ?? config.max;
      const inside = series.filter((p) => p.t * S > a && p.t * S <= b).map((p) => p.limit);
      watchRise = Math.max(...inside) - start;
    }
    return {
      config,
      p99: p99Of(waits),
      throughput: completed / (sc.durationMs / S),
      timeouts,
      meanConnections: sizeSum / Math.max(1, samples),
      maxConnections,
      adjustmentsPerMin: lastAdj / minutes,
      steadyAdjustmentsPerMin: steadyAdj / ((sc.steadyTo - sc.steadyFrom) / 60_000),
      watchRise,
      series,
    };
  } finally {
    clock.uninstall();
  }
}

/** The smallest size whose p99 is within 5 % (+1 ms) of the sweep's best and that timed out no more. */
function bestFixed(sweep: Result[]): Result {
  const minP99 = Math.min(...sweep.map((r) => r.p99));
  const minTimeouts = Math.min(...sweep.map((r) => r.timeouts));
  return sweep
    .filter((r) => r.p99 <= minP99 * 1.05 + 1 && r.timeouts <= minTimeouts)
    .sort((a, b) => a.config.max - b.config.max)[0];
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : String(n));

/**
 * Scenario 5: four instances share one fleet budget (`autoSize.fleet`) and one database; the
 * lease table is the in-process FakeLeaseStore (virtual time, see its header). At `crashAt` one
 * instance crashes: its connections are gone at once, but its share stays reserved until its TTL
 * runs out, then the survivors take it.
 */
const FLEET = {
  instances: 4,
  budget: 32,
  ratePerInstance: 250,
  ttlMs: 10 * S,
  durationMs: dur(240 * S),
  crashAt: dur(120 * S),
};

interface FleetResult {
  p99: number;
  throughput: number;
  timeouts: number;
  maxSum: number;
  reusedAfterMs: number | undefined;
  survivorsBefore: number;
  survivorsAfter: number;
  series: { t: number; sum: number; held: number[]; p99: number }[];
}

async function runFleet(): Promise<FleetResult> {
  const clock = new VirtualClock();
  clock.install(SEED);
  try {
    const db = new SimDatabase(dbModel(scenarios[0]), () => clock.now);
    const store = new FakeLeaseStore(() => clock.now);
    const key = 'sim:fleet';
    const ids = Array.from({ length: FLEET.instances }, (_, i) => `i${i}`);
    const pools = ids.map(
      (id) =>
        new Pool<{ id: number }>({
          name: `fleet-${id}`,
          factory: { create: () => db.connect(), destroy: () => db.disconnect() },
          min: 0,
          max: FIXED_MAX,
          acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
          idleTimeoutMs: 60_000,
          maxLifetimeMs: 0,
          logger: silentPoolLogger,
          autoSize: {
            ...(autoOptions === true ? {} : autoOptions),
            fleet: {
              redis: store,
              key,
              maxConnections: FLEET.budget,
              leaseTtlMs: FLEET.ttlMs,
              instanceId: id,
            },
          },
        }),
    );
    const crashed = FLEET.instances - 1;
    let isCrashed = false;
    const waits: number[] = [];
    let bucket: number[] = [];
    let completed = 0;
    let timeouts = 0;
    pools.forEach((pool, i) => {
      const arrivals = new Arrivals(SEED + 10 + i, () => FLEET.ratePerInstance, FLEET.ratePerInstance);
      const fire = () => {
        if (i === crashed && isCrashed) return;
        const t0 = clock.now;
        pool.acquire().then(
          async (c) => {
            const w = clock.now - t0;
            waits.push(w);
            bucket.push(w);
            await db.query();
            pool.release(c);
            completed++;
          },
          () => {
            if (i === crashed && isCrashed) return;
            timeouts++;
            waits.push(ACQUIRE_TIMEOUT_MS);
            bucket.push(ACQUIRE_TIMEOUT_MS);
          },
        );
        const next = arrivals.next(clock.now);
        if (next < FLEET.durationMs) setTimeout(fire, next - clock.now);
      };
      setTimeout(fire, arrivals.next(0));
    });
    setTimeout(() => {
      // The process is gone: no more renewals or releases, and its connections count no more.
      isCrashed = true;
      store.cut(ids[crashed]);
    }, FLEET.crashAt);
    const series: FleetResult['series'] = [];
    let maxSum = 0;
    let reusedAfterMs: number | undefined;
    let survivorsBefore = 0;
    const sampler = setInterval(() => {
      const held = pools.map((p, i) => (i === crashed && isCrashed ? 0 : p.stats().size));
      const sum = held.reduce((a, b) => a + b, 0);
      maxSum = Math.max(maxSum, sum);
      const survivors = sum - held[crashed];
      if (!isCrashed) survivorsBefore = survivors;
      else if (reusedAfterMs === undefined && survivors > survivorsBefore)
        reusedAfterMs = clock.now - FLEET.crashAt;
      series.push({ t: clock.now / S, sum, held, p99: p99Of(bucket) });
      bucket = [];
    }, S / 10);
    await clock.runUntil(FLEET.durationMs);
    clearInterval(sampler);
    const survivorsAfter = series.at(-1)!.sum;
    const closing = Promise.all(pools.map((p, i) => (i === crashed ? Promise.resolve() : p.close())));
    await clock.runUntil(FLEET.durationMs + 60 * S);
    await closing;
    return {
      p99: p99Of(waits),
      throughput: completed / (FLEET.durationMs / S),
      timeouts,
      maxSum,
      reusedAfterMs,
      survivorsBefore,
      survivorsAfter,
      series: series.filter((_, i) => i % 10 === 9),
    };
  } finally {
    clock.uninstall();
  }
}

async function fleetScenario(rows: string[], notes: string[]): Promise<void> {
  const r = await runFleet();
  rows.push(
    `| fleet | 4 x autoSize, budget ${FLEET.budget}, one crash at ${FLEET.crashAt / S} s | ${f(r.p99)} | ${f(r.throughput)} | ${r.timeouts} | sum max ${r.maxSum} (budget ${FLEET.budget}) | - |`,
  );
  notes.push(
    `fleet: the sum of connections held never exceeded ${r.maxSum} (budget ${FLEET.budget}); the survivors held ${r.survivorsBefore} before the crash and ${r.survivorsAfter} at the end; they began to reuse the crashed instance's share ${r.reusedAfterMs === undefined ? 'NEVER' : `${f(r.reusedAfterMs / S, 1)} s`} after the crash (lease TTL ${FLEET.ttlMs / S} s).`,
  );
  if (!plots) return;
  const colors = ['#1f77b4', '#2ca02c', '#9467bd', '#d62728'];
  const connections: Series[] = [
    { label: 'sum held', color: '#000000', points: r.series.map((p) => [p.t, p.sum] as [number, number]) },
    {
      label: `budget ${FLEET.budget}`,
      color: '#7f7f7f',
      dashed: true,
      points: r.series.map((p) => [p.t, FLEET.budget] as [number, number]),
    },
    ...colors.map((color, i) => ({
      label: i === FLEET.instances - 1 ? `instance ${i} (crashes)` : `instance ${i}`,
      color,
      points: r.series.map((p) => [p.t, p.held[i]] as [number, number]),
    })),
  ];
  const waits: Series[] = [
    {
      label: 'all instances',
      color: '#1f77b4',
      points: r.series.map((p) => [p.t, p.p99] as [number, number]),
    },
  ];
  const svg = chart(
    `Four instances sharing a fleet budget of ${FLEET.budget}, one crashing at ${FLEET.crashAt / S} s (simulated, seed ${SEED})`,
    [
      { title: 'Connections held per instance and in sum', yLabel: 'connections', series: connections },
      { title: 'Acquire wait p99 per second', yLabel: 'ms', series: waits },
    ],
    FLEET.durationMs / S,
  );
  writeFileSync(join(__dirname, '..', '..', '..', 'docs', `autosize-fleet${quick ? '-quick' : ''}.svg`), svg);
}

async function main(): Promise<void> {
  const sizes = quick ? [6, 10, 16, 24, 40] : [4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64];
  const rows: string[] = [];
  const header =
    '| scenario | pool | p99 wait ms | throughput req/s | timeouts | connections mean / max | adjustments/min (all / steady) |';
  rows.push(header, '|---|---|---|---|---|---|---|');
  const notes: string[] = [];
  for (const sc of scenarios) {
    if (only !== undefined && sc.name !== only) continue;
    const started = Date.now();
    const sweep: Result[] = [];
    for (const max of sizes) sweep.push(await run(sc, { label: `fixed-${max}`, max, auto: false }));
    const best = bestFixed(sweep);
    const fixed = await run(sc, { label: `fixed-${FIXED_MAX}`, max: FIXED_MAX, auto: false });
    const auto = await run(sc, { label: 'auto', max: FIXED_MAX, auto: true });
    for (const [name, r] of [
      [`fixed max ${FIXED_MAX}`, fixed],
      [`best fixed (${best.config.max})`, best],
      [`autoSize (max ${FIXED_MAX})`, auto],
    ] as const) {
      rows.push(
        `| ${sc.name} | ${name} | ${f(r.p99)} | ${f(r.throughput)} | ${r.timeouts} | ${f(r.meanConnections)} / ${r.maxConnections} | ${r.config.auto ? `${f(r.adjustmentsPerMin, 2)} / ${f(r.steadyAdjustmentsPerMin, 2)}` : '0'} |`,
      );
    }
    if (sc.name === 'steady') {
      notes.push(
        `steady: autoSize holds ${f(auto.meanConnections / best.meanConnections, 2)}x the connections of the best fixed size (target <= 1.3x) at a p99 wait of ${f(auto.p99, 2)} ms against its ${f(best.p99, 2)} ms (target <= 1.1x); ${f(auto.steadyAdjustmentsPerMin, 2)} adjustments/min at steady state (target <= 2).`,
      );
    }
    if (auto.watchRise !== undefined) {
      notes.push(
        `${sc.name}: during the slowdown the limit ${auto.watchRise <= 0 ? 'did not rise' : `ROSE by ${auto.watchRise}`} (max limit in the window minus the limit at its start: ${auto.watchRise}).`,
      );
    }
    notes.push(
      `${sc.name}: sweep p99 by size: ${sweep.map((r) => `${r.config.max}=${f(r.p99)}`).join(', ')} (simulated in ${((Date.now() - started) / 1000).toFixed(1)} s of real time).`,
    );
    if (plots) {
      const pts = (r: Result, k: 'size' | 'limit' | 'p99') =>
        r.series.map((p) => [p.t, p[k]] as [number, number]);
      const connections: Series[] = [
        { label: `fixed max ${FIXED_MAX}`, color: '#d62728', points: pts(fixed, 'size') },
        { label: `best fixed ${best.config.max}`, color: '#2ca02c', points: pts(best, 'size') },
        { label: 'autoSize: held', color: '#1f77b4', points: pts(auto, 'size') },
        { label: 'autoSize: limit', color: '#1f77b4', points: pts(auto, 'limit'), dashed: true },
      ];
      const waits: Series[] = [
        { label: `fixed max ${FIXED_MAX}`, color: '#d62728', points: pts(fixed, 'p99') },
        { label: `best fixed ${best.config.max}`, color: '#2ca02c', points: pts(best, 'p99') },
        { label: 'autoSize', color: '#1f77b4', points: pts(auto, 'p99') },
      ];
      const svg = chart(
        `${sc.title} (simulated, seed ${SEED})`,
        [
          { title: 'Connections held (and the autoSize limit)', yLabel: 'connections', series: connections },
          { title: 'Acquire wait p99 per second', yLabel: 'ms', series: waits },
        ],
        sc.durationMs / S,
      );
      const file = join(
        __dirname,
        '..',
        '..',
        '..',
        'docs',
        `autosize-${sc.name}${quick ? '-quick' : ''}.svg`,
      );
      writeFileSync(file, svg);
    }
  }
  if (only === undefined || only === 'fleet') await fleetScenario(rows, notes);
  console.log(rows.join('\n'));
  console.log('');
  for (const n of notes) console.log(`- ${n}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
