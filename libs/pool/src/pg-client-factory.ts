/**
 * A ready `ResourceFactory` for pools of `pg` clients.
 *
 * `pg` is an OPTIONAL peer: this file imports it only as types (erased at compile time) and loads
 * it on the first `create()`, so importing `@reservoir/pool` never requires `pg` at run time.
 */
import type { Client, ClientConfig } from 'pg';
import { OptionChecker } from '@reservoir/core';
import { isPgConnectionError } from './pg-errors';
import { PoolConfigError } from './pool.errors';
import type { ResourceFactory } from './pool.types';

/** A connection string, or `pg`'s client configuration. */
export type PgClientConfig = string | ClientConfig;

/**
 * Options of `pgClientFactory`. The field initialisers are the defaults (the one place they live), and
 * the validator's list of known keys is read off an instance.
 *
 * @publicApi
 */
export class PgClientFactoryOptions {
  /** `application_name` of every pooled backend (visible in `pg_stat_activity`); overrides the config's. */
  applicationName?: string = undefined;
  /**
   * Runs once per client, right after it connected and before the pool lends it (e.g.
   * `SET ROLE app_user`). If it throws, the client is ended and the create fails.
   */
  onConnect?: (client: Client) => Promise<void> | void = undefined;
  /** Statement run by `validate` (on borrow after `validateAfterIdleMs`); `false` disables validation. @default 'SELECT 1' */
  validateQuery?: string | false = 'SELECT 1';
  /** The client class to instantiate. @default require('pg').Client */
  Client?: new (config: ClientConfig) => Client = undefined;
  /**
   * Client-side bound on every query (pg's `query_timeout`), so a query on a connection that stopped
   * answering (a silent network partition) fails instead of holding its lease forever. A query that
   * timed out leaves the connection busy, so the default `isBroken` treats it as broken. A
   * `query_timeout` in `config` wins; 0 disables. @default 30000
   */
  queryTimeoutMs?: number = 30_000;
  /**
   * TCP keepalive on every connection (pg's `keepAlive`), so the OS notices a dead peer. A
   * `keepAlive` in `config` wins. @default true
   */
  keepAlive?: boolean = true;
  /** Idle time before the first keepalive probe (pg's `keepAliveInitialDelayMillis`). @default 10000 */
  keepAliveInitialDelayMs?: number = 10_000;
  /**
   * What `pool.use()` treats as a broken client when its callback throws (destroyed, not reused).
   * @default connection-level failures (`isPgConnectionError`) and client-side query timeouts
   */
  isBroken?: (err: unknown) => boolean = undefined;
}

/** Declaration order, which is the order an unknown-key error lists them in. */
const KNOWN_KEYS: readonly string[] = Object.keys(new PgClientFactoryOptions());

const QUERY_TIMEOUT = /query read timeout/i;

/** The default `isBroken`: connection-level failures, plus pg's client-side query timeout. */
function pgIsBroken(err: unknown): boolean {
  return isPgConnectionError(err) || (err instanceof Error && QUERY_TIMEOUT.test(err.message));
}

const ignore = (): void => undefined;

const ENDED_BY_BORROWER = 'the client was ended while leased (client.end())';

/** pg sets `_ending` synchronously in end(); not in its types. */
function isEnding(client: Client): boolean {
  return (client as unknown as { _ending?: boolean })._ending === true;
}

/**
 * A `ResourceFactory<pg.Client>`:
 * - `create` connects and gives up as soon as the pool does (`createTimeoutMs`, `close()`): it
 *   rejects with the abort reason right away and ends the client, because pg's `connect()` may
 *   never settle when its socket is destroyed mid-handshake;
 * - `destroy` ends the client (and skips clients whose connection already ended, for which pg's
 *   `end()` never settles);
 * - `validate` runs `SELECT 1`;
 * - `watch` reports an idle client whose backend dies ('error' or 'end': restart,
 *   `pg_terminate_backend`, firewall), so the pool removes it and refills to `min`. Every client keeps
 *   an 'error' listener for its whole life, so an error while connecting or ending never crashes the
 *   process.
 *
 * `config` may be a function, called for every new client (e.g. to follow a failover).
 *
 * @example
 * PoolModule.forRoot({ factory: pgClientFactory(process.env.DATABASE_URL!, { applicationName: 'my-app' }), max: 10 });
 *
 * @publicApi
 */
export function pgClientFactory(
  config: PgClientConfig | (() => PgClientConfig),
  options: PgClientFactoryOptions = {},
): ResourceFactory<Client> {
  const c: OptionChecker = new OptionChecker((option, given, allowed) =>
    PoolConfigError.invalidOption('pgClientFactory', option, given, allowed, 'pgClientFactory'),
  );
  const given: { config: unknown; options: unknown } = { config, options };
  if (typeof config !== 'string' && typeof config !== 'function') c.object('config', given.config);
  c.object('', given.options);
  c.knownKeys(given.options, KNOWN_KEYS);
  // Only the fields that have a default are read from `d`.
  const d = new PgClientFactoryOptions() as Required<PgClientFactoryOptions>;
  if (options.applicationName !== undefined) c.string('applicationName', options.applicationName, false);
  if (options.onConnect !== undefined) c.func('onConnect', options.onConnect);
  if (options.Client !== undefined) c.func('Client', options.Client);
  if (options.isBroken !== undefined) c.func('isBroken', options.isBroken);
  const validateQuery = options.validateQuery ?? d.validateQuery;
  if (validateQuery !== false) c.string('validateQuery', validateQuery);
  const queryTimeoutMs = c.integer(
    'queryTimeoutMs',
    options.queryTimeoutMs ?? d.queryTimeoutMs,
    0,
    2_147_483_647,
  );
  const keepAlive = c.boolean('keepAlive', options.keepAlive ?? d.keepAlive);
  const keepAliveInitialDelayMs = c.integer(
    'keepAliveInitialDelayMs',
    options.keepAliveInitialDelayMs ?? d.keepAliveInitialDelayMs,
    0,
    2_147_483_647,
  );

  const { applicationName, onConnect } = options;
  let ClientClass = options.Client;
  const ended = new WeakSet<Client>();

  const clientConfig = (): ClientConfig => {
    const given = typeof config === 'function' ? config() : config;
    const base: ClientConfig = typeof given === 'string' ? { connectionString: given } : { ...given };
    if (applicationName !== undefined) base.application_name = applicationName;
    if (base.query_timeout === undefined && queryTimeoutMs > 0) base.query_timeout = queryTimeoutMs;
    if (base.keepAlive === undefined) base.keepAlive = keepAlive;
    if (base.keepAliveInitialDelayMillis === undefined)
      base.keepAliveInitialDelayMillis = keepAliveInitialDelayMs;
    return base;
  };

  const factory: ResourceFactory<Client> = {
    async create({ signal }) {
      ClientClass ??= (await import('pg')).Client;
      if (signal.aborted) throw signal.reason ?? new Error('create aborted');
      const client = new ClientClass(clientConfig());
      client.once('end', () => ended.add(client));
      // Nobody else listens until the pool watches the client, nor after it stops: an 'error' with no
      // listener (backend killed mid-handshake, or while ending) would crash the process.
      client.on('error', ignore);
      try {
        await new Promise<void>((resolve, reject) => {
          const onAbort = (): void => reject(signal.reason ?? new Error('create aborted'));
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          (async () => {
            await client.connect();
            if (onConnect) await onConnect(client);
          })()
            .then(resolve, reject)
            .finally(() => signal.removeEventListener('abort', onAbort));
        });
      } catch (err) {
        if (!ended.has(client)) void client.end().catch(ignore);
        throw err;
      }
      return client;
    },
    // A client already ending (its borrower called end()) is left to finish: a second end() waits
    // for an 'end' that may already have been emitted.
    destroy: (client) => (ended.has(client) || isEnding(client) ? undefined : client.end()),
    watch: (client, onBroken) => {
      const onEnd = (): void => onBroken(new Error('connection ended'));
      client.on('error', onBroken);
      client.on('end', onEnd);
      // pg marks a client ending synchronously inside end(), but 'end' comes later: report it at
      // once, so a borrower that ends its client and releases it never gets it lent again.
      const end = client.end;
      const wrapped = function (this: Client, ...args: unknown[]): unknown {
        onBroken(new Error(ENDED_BY_BORROWER));
        return (end as (...a: unknown[]) => unknown).apply(this, args);
      } as Client['end'];
      client.end = wrapped;
      return () => {
        // The 'error' listener added by create() stays: a retired client can still emit while it ends.
        client.off('error', onBroken);
        client.off('end', onEnd);
        if (client.end === wrapped) client.end = end;
      };
    },
    isBroken: options.isBroken ?? pgIsBroken,
  };
  if (validateQuery !== false) {
    factory.validate = async (client) => {
      await client.query(validateQuery);
      return true;
    };
  }
  return factory;
}
