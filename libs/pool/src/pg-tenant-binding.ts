/**
 * Tenant session binding for `pg` clients, for PostgreSQL row-level security policies such as
 * `USING (organisation_id = current_setting('app.organisation_id'))`.
 *
 * Typed against a minimal `{ query }` shape so `pg` stays an optional peer dependency.
 */
import { OptionChecker } from '@reservoir/core';
import { PoolConfigError, PoolError } from './pool.errors';
import { PoolMessages } from './pool.messages';
import type { TenantBinding } from './pool.types';

/** The one method of `pg.Client` / `pg.PoolClient` the binding needs. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

export interface PgTenantBindingOptions {
  /** The custom setting (GUC) the RLS policy reads; must be `prefix.name`. @default 'app.organisation_id' */
  setting?: string;
  /**
   * - `'session'`: `set_config(setting, id, false)` on bind, reset to `''` on unbind. The binding stays
   *   on the connection between leases, so the same tenant reuses it with no round trip (affinity).
   *   Needs a connection that is yours for the lease: direct PostgreSQL, or PgBouncer in session mode.
   * - `'transaction'`: each lease is one transaction: `BEGIN` + `set_config(setting, id, true)` on bind,
   *   `COMMIT` on release. Works behind PgBouncer in transaction mode, where session state would leak
   *   to other clients. A throw inside `pool.use()` destroys the client, which rolls the transaction back.
   * @default 'session'
   */
  mode?: 'session' | 'transaction';
}

export const PG_TENANT_BINDING_DEFAULTS = { setting: 'app.organisation_id', mode: 'session' } as const;

/** A PostgreSQL custom setting name: two identifiers joined by a dot. */
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/;

const SET_SESSION = 'SELECT set_config($1, $2, false)';
const SET_LOCAL = 'SELECT set_config($1, $2, true)';

/**
 * A ready `tenantBinding` for pools of `pg` clients.
 *
 * @example
 * new Pool<pg.Client>({ factory, tenantBinding: pgTenantBinding({ setting: 'app.organisation_id' }) });
 *
 * @publicApi
 */
export function pgTenantBinding<C extends PgQueryable = PgQueryable>(
  options: PgTenantBindingOptions = {},
): TenantBinding<C> & { readonly setting: string; readonly mode: 'session' | 'transaction' } {
  const c: OptionChecker = new OptionChecker((option, given, allowed) =>
    PoolConfigError.invalidOption('pgTenantBinding', option, given, allowed, 'pgTenantBinding'),
  );
  c.object('', options);
  c.knownKeys(options, ['setting', 'mode']);
  const setting = options.setting ?? PG_TENANT_BINDING_DEFAULTS.setting;
  if (typeof setting !== 'string' || !SETTING_NAME.test(setting)) {
    throw c.error('setting', setting, 'a custom setting name like "app.organisation_id"');
  }
  const mode = c.oneOf('mode', options.mode ?? PG_TENANT_BINDING_DEFAULTS.mode, ['session', 'transaction']);

  if (mode === 'session') {
    return {
      setting,
      mode,
      unbindOnRelease: false,
      async bind(client, organisationId) {
        await client.query(SET_SESSION, [setting, organisationId]);
      },
      async rebind(client, _from, organisationId) {
        // Overwrites the one setting the policy reads, so nothing of the previous tenant survives.
        await client.query(SET_SESSION, [setting, organisationId]);
      },
      async unbind(client) {
        // '' rather than RESET: it is parameterised, and an RLS policy comparing to '' matches no row.
        await client.query(SET_SESSION, [setting, '']);
      },
    };
  }
  return {
    setting,
    mode,
    unbindOnRelease: true,
    async bind(client, organisationId) {
      await client.query('BEGIN');
      await client.query(SET_LOCAL, [setting, organisationId]);
    },
    async unbind(client) {
      await commitChecked(client, setting);
    },
  };
}

/** Where the client can report notices (`pg.Client` can); optional so `{ query }` stays enough. */
interface PgNoticeSource {
  on?(event: 'notice', listener: (notice: { code?: string }) => void): unknown;
  removeListener?(event: 'notice', listener: (notice: { code?: string }) => void): unknown;
}

/** SQLSTATE of the warning "there is no transaction in progress". */
const NO_ACTIVE_TRANSACTION = '25P01';

/**
 * COMMIT that fails unless it really committed the lease's transaction. PostgreSQL answers COMMIT
 * of an aborted transaction with the tag ROLLBACK and no error, and COMMIT with no transaction open
 * with a warning and no error (a COMMIT/ROLLBACK inside the callback, or a pooler that sent the
 * COMMIT to another server connection; PgBouncer 1.18 does not, it closes the client when its
 * server connection dies). Either way the lease's work is gone, so the caller must not be told it
 * succeeded. A connection that died before the COMMIT is caught by the pool, which skips the unbind
 * of a broken resource and fails `use()`.
 */
async function commitChecked(client: PgQueryable & PgNoticeSource, setting: string): Promise<void> {
  let noTransaction = false;
  const onNotice = (n: { code?: string }) => {
    if (n.code === NO_ACTIVE_TRANSACTION) noTransaction = true;
  };
  client.on?.('notice', onNotice);
  let result: unknown;
  try {
    result = await client.query('COMMIT');
  } finally {
    client.removeListener?.('notice', onNotice);
  }
  if ((result as { command?: unknown } | undefined)?.command === 'ROLLBACK') {
    throw new PoolError('pgTenantBinding', PoolMessages.commitRolledBack(setting));
  }
  if (noTransaction) throw new PoolError('pgTenantBinding', PoolMessages.commitWithoutTransaction(setting));
}

/**
 * Runs `fn` in one transaction with `setting` set transaction-locally to `organisationId`: the
 * PgBouncer-transaction-mode-safe way to scope work to a tenant without any pool binding. Commits
 * on success, rolls back (and rethrows) on failure.
 *
 * @publicApi
 */
export async function withTenantTransaction<C extends PgQueryable, R>(
  client: C,
  organisationId: string,
  fn: (client: C) => Promise<R>,
  setting: string = PG_TENANT_BINDING_DEFAULTS.setting,
): Promise<R> {
  await client.query('BEGIN');
  try {
    await client.query(SET_LOCAL, [setting, organisationId]);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
