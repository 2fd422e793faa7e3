/**
 * The demo's lazy resources (LazyModule):
 * - per-tenant settings and feature flags: `tenantScoped` (the default), so each organisation's
 *   value is cached under its own key and one tenant never receives another's;
 * - a slow, global "pricing table": `tenantScoped: false`, `preload: true` (loaded during
 *   bootstrap, so the first request does not pay for it), `versionOf` the source revision (a
 *   refresh after the source changed raises a `drift-detected` alert).
 * Versions (v1, v2, …) are shown by the API and the dashboard. With REDIS_URL both resources are
 * shared across demo instances (SharedTierModule): one version per entry for the whole fleet, and a
 * write or invalidation on one instance reaches the others.
 */
import { Inject, Injectable } from '@nestjs/common';
import { LazyLoader, LazyResource } from '@reservoir/lazy';
import { TenantContext } from '@reservoir/tenant';
import { DEMO_CONFIG, type DemoConfig } from '../config';
import {
  type OrganisationSettings,
  PROJECTS_REPOSITORY,
  type PricingRow,
  type ProjectsRepository,
} from '../db/db.types';
import { sleep } from '../db/seed';

export interface PricingSnapshot {
  revision: number;
  rows: PricingRow[];
  loadedAt: string;
}

/** Resource names and entry keys, as LazyLoader knows them (`Class.method` / `Class.method()`). */
export const SETTINGS_RESOURCE = 'TenantSettingsService.settings';
export const PRICING_RESOURCE = 'PricingService.table';
const entryKey = (resource: string) => `${resource}()`;

@Injectable()
export class TenantSettingsService {
  constructor(
    @Inject(PROJECTS_REPOSITORY) private readonly repo: ProjectsRepository,
    private readonly tenant: TenantContext,
    private readonly lazy: LazyLoader,
  ) {}

  /** The current organisation's settings and flags, cached per organisation. */
  @LazyResource({ staleAfterMs: 30_000 })
  async settings(): Promise<OrganisationSettings> {
    return this.repo.settings(this.tenant.require());
  }

  /** Cached version of the current organisation's settings (0 before the first load). */
  version(): number {
    return this.lazy.version(entryKey(SETTINGS_RESOURCE));
  }

  isStale(): boolean {
    return this.lazy.isStale(entryKey(SETTINGS_RESOURCE));
  }

  /**
   * Drops this organisation's cached settings; with the shared tier, on every instance (the next
   * read anywhere loads them again under a newer version). Returns the entries dropped here.
   */
  invalidate(): number {
    return this.lazy.invalidate(entryKey(SETTINGS_RESOURCE));
  }

  /** Writes a flag, then reloads this organisation's entry so its version increases. */
  async setFlag(flag: string, enabled: boolean): Promise<OrganisationSettings> {
    await this.repo.setFlag(this.tenant.require(), flag, enabled);
    return this.lazy.reload<OrganisationSettings>(entryKey(SETTINGS_RESOURCE));
  }
}

@Injectable()
export class PricingService {
  constructor(
    @Inject(PROJECTS_REPOSITORY) private readonly repo: ProjectsRepository,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
    private readonly lazy: LazyLoader,
  ) {}

  /** A deliberately slow load (PRICING_LOAD_MS), preloaded at bootstrap and shared by every tenant. */
  @LazyResource({
    tenantScoped: false,
    preload: true,
    staleAfterMs: 5 * 60_000,
    versionOf: (value) => (value as PricingSnapshot).revision,
  })
  async table(): Promise<PricingSnapshot> {
    await sleep(this.config.pricingLoadMs);
    const { revision, rows } = await this.repo.pricing();
    return { revision, rows, loadedAt: new Date().toISOString() };
  }

  version(): number {
    return this.lazy.version(entryKey(PRICING_RESOURCE));
  }

  isStale(): boolean {
    return this.lazy.isStale(entryKey(PRICING_RESOURCE));
  }

  /**
   * Forces a reload (the version increases). With `bumpSource`, first bumps the source revision,
   * as if someone had edited the prices, so the reload also reports drift.
   */
  async refresh(bumpSource: boolean): Promise<PricingSnapshot> {
    if (bumpSource) await this.repo.bumpPricingRevision();
    return this.lazy.reload<PricingSnapshot>(entryKey(PRICING_RESOURCE));
  }
}
