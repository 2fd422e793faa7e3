/**
 * A ready `ResourceFactory` for pools of `pg` clients.
 *
 * `pg` is an OPTIONAL peer: this file imports it only as types (erased at compile time) and loads
 * it on the first `create()`, so importing `@reservoir/pool` never requires `pg` at run time.
 */
import type { Client, ClientConfig } from 'pg';
import { OptionChecker } from '@reservoir/core';
import { PoolConfigError } from './pool.errors';
import type { ResourceFactory } from './pool.types';

/** A connection string, or `pg`'s client configuration. */
export type PgClientConfig = string | ClientConfig;

export interface PgClientFactoryOptions {
  /** `application_name` of every pooled backend (visible in `pg_stat_activity`); overrides the config's. */
  applicationName?: string;
  /**
   * Runs once per client, right after it connected and before the pool lends it (e.g.
   * `SET ROLE app_user`). If it throws, the client is ended and the create fails.
   */
  onConnect?: (client: Client) => Promise<void> | void;
  /** Statement run by `validate` (on borrow after `validateAfterIdleMs`); `false` disables validation. @default 'SELECT 1' */
  validateQuery?: string | false;
  /** The client class to instantiate. @default require('pg').Client */
  Client?: new (config: ClientConfig) => Client;
}

const ignore = (): void => undefined;

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
  c.knownKeys(given.options, ['applicationName', 'onConnect', 'validateQuery', 'Client']);
  if (options.applicationName !== undefined) c.string('applicationName', options.applicationName, false);
  if (options.onConnect !== undefined) c.func('onConnect', options.onConnect);
  if (options.Client !== undefined) c.func('Client', options.Client);
  const validateQuery = options.validateQuery ?? 'SELECT 1';
  if (validateQuery !== false) c.string('validateQuery', validateQuery);

  const { applicationName, onConnect } = options;
  let ClientClass = options.Client;
  const ended = new WeakSet<Client>();

  const clientConfig = (): ClientConfig => {
    const given = typeof config === 'function' ? config() : config;
    const base: ClientConfig = typeof given === 'string' ? { connectionString: given } : { ...given };
    if (applicationName !== undefined) base.application_name = applicationName;
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
    destroy: (client) => (ended.has(client) ? undefined : client.end()),
    watch: (client, onBroken) => {
      const onEnd = (): void => onBroken(new Error('connection ended'));
      client.on('error', onBroken);
      client.on('end', onEnd);
      return () => {
        // The 'error' listener added by create() stays: a retired client can still emit while it ends.
        client.off('error', onBroken);
        client.off('end', onEnd);
      };
    },
  };
  if (validateQuery !== false) {
    factory.validate = async (client) => {
      await client.query(validateQuery);
      return true;
    };
  }
  return factory;
}
