/*
 * One fleet member for the multi-process tier tests: a RedisTier in its own node process, driven by
 * the parent over IPC. Run as `node -r test/helpers/ts-register.js test/fleet/tier-worker.ts` with
 * REDIS_URL and TIER_PREFIX set. Every command answers `{ id, ok, result | error }`.
 */
import { LazyLoaderCore } from '@reservoir/lazy/lazy-loader.core';
import { RedisTier, type TierEvent, type TierRef } from '@reservoir/lazy/redis';

type Cmd =
  | { id: number; op: 'stampede'; ref: TierRef; callers: number; loadMs: number; startAt: number }
  | { id: number; op: 'invalidate'; ref: TierRef }
  | { id: number; op: 'getOrLoad'; ref: TierRef; value: unknown; loadMs: number }
  | { id: number; op: 'steady'; ref: TierRef; durationMs: number }
  | { id: number; op: 'coreStampede'; callers: number; startAt: number }
  | { id: number; op: 'coreReload' }
  | { id: number; op: 'coreWatch'; minVersion: number; timeoutMs: number }
  | { id: number; op: 'corePeek' }
  | { id: number; op: 'tenantGet'; resource: string; tenant: string }
  | { id: number; op: 'tenantPeek'; resource: string; tenant: string }
  | { id: number; op: 'tenantInvalidate'; prefix: string; tenant: string }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

const tier = new RedisTier({
  url: process.env.REDIS_URL,
  prefix: process.env.TIER_PREFIX,
  leaseMs: Number(process.env.TIER_LEASE_MS ?? 10_000),
  commandTimeoutMs: Number(process.env.TIER_COMMAND_TIMEOUT_MS ?? 250),
});
const send = (m: unknown): void => {
  process.send?.(m);
};
let loaderCalls = 0;
// The loader as an app uses it: LazyLoaderCore with the shared tier, one resource that counts its loads.
let currentTenant: string | undefined;
const core = new LazyLoaderCore(
  { shared: tier, tenantScoped: false },
  { tenantResolver: () => currentTenant },
);
let coreLoads = 0;
core.register('catalog', async () => {
  coreLoads++;
  await sleep(200);
  return { by: process.pid, load: coreLoads };
});

// Two tenant-scoped resources, to show a namespace invalidation of one organisation across
// processes. The organisation comes from the tenant resolver, as in an app; `tenantGet` sets it
// (the parent sends tenant commands to one worker one at a time).
const tenantLoads: Record<string, number> = {};
for (const resource of ['settings', 'profile']) {
  core.register(
    resource,
    async () => {
      const k = `${resource}/${String(currentTenant)}`;
      tenantLoads[k] = (tenantLoads[k] ?? 0) + 1;
      await sleep(50);
      return { resource, of: currentTenant, by: process.pid, load: tenantLoads[k] };
    },
    { tenantScoped: true },
  );
}

tier.onEvent((e: TierEvent) => {
  if (e.type !== 'stale-all') send({ event: { ...e, receivedAt: Date.now(), pid: process.pid } });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(cmd: Cmd): Promise<unknown> {
  switch (cmd.op) {
    case 'stampede': {
      await sleep(Math.max(0, cmd.startAt - Date.now()));
      const load = async (): Promise<{ by: number }> => {
        loaderCalls++;
        await sleep(cmd.loadMs);
        return { by: process.pid };
      };
      const results = await Promise.all(
        Array.from({ length: cmd.callers }, () => tier.getOrLoad(cmd.ref, load)),
      );
      return {
        loaderCalls,
        versions: [...new Set(results.map((r) => r.version))],
        values: [...new Set(results.map((r) => JSON.stringify(r.value)))],
        sources: results.reduce<Record<string, number>>(
          (acc, r) => ({ ...acc, [r.source]: (acc[r.source] ?? 0) + 1 }),
          {},
        ),
      };
    }
    case 'invalidate': {
      const sentAt = Date.now();
      const version = await tier.invalidate(cmd.ref);
      return { sentAt, version };
    }
    case 'getOrLoad': {
      send({ started: cmd.id });
      const r = await tier.getOrLoad(cmd.ref, async (version) => {
        loaderCalls++;
        send({ loading: cmd.id, version });
        await sleep(cmd.loadMs);
        return cmd.value;
      });
      return { ...r, stats: tier.stats() };
    }
    case 'steady': {
      // Back-to-back misses for durationMs (a fresh floor each time, so each is a real miss path).
      const end = Date.now() + cmd.durationMs;
      let ok = 0;
      let failed = 0;
      let worstMs = 0;
      const sources: Record<string, number> = {};
      for (let i = 1; Date.now() < end; i++) {
        const t0 = performance.now();
        try {
          const r = await tier.getOrLoad({ ...cmd.ref, key: `${cmd.ref.key}-${process.pid}-${i}` }, () => i);
          if (r.value !== i) throw new Error(`wrong value ${String(r.value)}`);
          sources[r.source] = (sources[r.source] ?? 0) + 1;
          ok++;
        } catch {
          failed++;
        }
        worstMs = Math.max(worstMs, performance.now() - t0);
        await sleep(5);
      }
      return { ok, failed, worstMs, sources, stats: tier.stats() };
    }
    case 'coreStampede': {
      await sleep(Math.max(0, cmd.startAt - Date.now()));
      const values = await Promise.all(Array.from({ length: cmd.callers }, () => core.get('catalog')));
      return {
        coreLoads,
        version: core.version('catalog'),
        values: [...new Set(values.map((v) => JSON.stringify(v)))],
      };
    }
    case 'coreReload': {
      const sentAt = Date.now();
      const value = await core.reload('catalog');
      return { sentAt, value, version: core.version('catalog') };
    }
    case 'coreWatch': {
      // Polls like a request stream would: the first get that returns a version >= minVersion.
      const end = Date.now() + cmd.timeoutMs;
      while (Date.now() < end) {
        const value = await core.get('catalog');
        const version = core.version('catalog');
        if (version >= cmd.minVersion) return { seenAt: Date.now(), value, version };
        await sleep(1);
      }
      throw new Error(`version ${cmd.minVersion} not seen within ${cmd.timeoutMs} ms`);
    }
    case 'corePeek':
      return { value: core.peek('catalog') ?? null, version: core.version('catalog') };
    case 'tenantGet': {
      currentTenant = cmd.tenant;
      try {
        const value = await core.get(cmd.resource);
        return { value, version: core.version(cmd.resource), loads: { ...tenantLoads } };
      } finally {
        currentTenant = undefined;
      }
    }
    case 'tenantPeek':
      currentTenant = cmd.tenant;
      try {
        return { value: core.peek(cmd.resource) ?? null };
      } finally {
        currentTenant = undefined;
      }
    case 'tenantInvalidate': {
      const sentAt = Date.now();
      const removed = core.invalidate(cmd.prefix, { organisationId: cmd.tenant });
      return { sentAt, removed };
    }
    case 'stats':
      return { ...tier.stats(), loaderCalls };
    case 'close':
      core.close();
      await tier.close();
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (cmd: Cmd) => {
  run(cmd).then(
    (result) => send({ id: cmd.id, ok: true, result }),
    (err: unknown) =>
      send({
        id: cmd.id,
        ok: false,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
  );
});

void tier.ready(5_000).then((ok) => send({ ready: ok, pid: process.pid }));
