import { EventEmitter } from 'node:events';
import type { Client, ClientConfig } from 'pg';
import { type PgClientFactoryOptions, pgClientFactory } from './pg-client-factory';
import { Pool } from './pool';
import { PoolConfigError } from './pool.errors';
import { silentPoolLogger } from './pool.logger';
import type { CreateContext, ResourceFactory } from './pool.types';

/** A stand-in for `pg.Client`: connect() does what the test says, end() emits 'end' like pg. */
class MockClient extends EventEmitter {
  static instances: MockClient[] = [];
  /** How the next clients' connect() behaves. */
  static connect: 'ok' | 'fail' | 'hang' = 'ok';
  readonly queries: string[] = [];
  endCalls = 0;
  constructor(readonly config: ClientConfig) {
    super();
    MockClient.instances.push(this);
  }
  connect(): Promise<void> {
    if (MockClient.connect === 'ok') return Promise.resolve();
    if (MockClient.connect === 'fail') return Promise.reject(new Error('ECONNREFUSED'));
    return new Promise(() => undefined);
  }
  async query(text: string): Promise<{ rows: unknown[] }> {
    this.queries.push(text);
    return { rows: [] };
  }
  async end(): Promise<void> {
    this.endCalls++;
    this.emit('end');
  }
}

const mockPg = { loads: 0 };
jest.mock('pg', () => {
  mockPg.loads++;
  return { Client: MockClient };
});

const AsClient = MockClient as unknown as NonNullable<PgClientFactoryOptions['Client']>;
const ctx = (signal = new AbortController().signal): CreateContext => ({ signal, attempt: 1, pool: 'pg' });
const mock = (c: Client): MockClient => c as unknown as MockClient;

/** Starts a create whose connect() never settles; resolves once the client exists. */
async function hangingCreate(factory: ResourceFactory<Client>) {
  MockClient.connect = 'hang';
  const ac = new AbortController();
  const created = factory.create(ctx(ac.signal));
  await new Promise((r) => setImmediate(r));
  return { ac, created };
}

beforeEach(() => {
  MockClient.instances = [];
  MockClient.connect = 'ok';
});

describe('pgClientFactory', () => {
  it('loads pg only on the first create, and connects with the given config', async () => {
    const factory = pgClientFactory('postgres://u@db/app', { applicationName: 'svc' });
    expect(mockPg.loads).toBe(0);
    const client = mock(await factory.create(ctx()));
    expect(mockPg.loads).toBe(1);
    expect(client.config).toEqual({
      connectionString: 'postgres://u@db/app',
      application_name: 'svc',
      // Bounded queries and TCP keepalive by default.
      query_timeout: 30_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    await factory.create(ctx());
    expect(mockPg.loads).toBe(1);
  });

  it('accepts a ClientConfig or a function returning one (read on every create)', async () => {
    const target = { port: 1 };
    const factory = pgClientFactory(
      () => ({ host: 'h', port: target.port, application_name: 'x', query_timeout: 5, keepAlive: false }),
      { Client: AsClient },
    );
    // What the config says wins over the factory's defaults.
    expect(mock(await factory.create(ctx())).config).toEqual({
      host: 'h',
      port: 1,
      application_name: 'x',
      query_timeout: 5,
      keepAlive: false,
      keepAliveInitialDelayMillis: 10_000,
    });
    target.port = 2;
    expect(mock(await factory.create(ctx())).config.port).toBe(2);
  });

  it('runs onConnect after connecting; a failing onConnect ends the client and fails the create', async () => {
    const order: string[] = [];
    const ok = pgClientFactory('pg://x', {
      Client: AsClient,
      onConnect: async (c) => {
        order.push('onConnect');
        await c.query('SET ROLE app');
      },
    });
    expect(mock(await ok.create(ctx())).queries).toEqual(['SET ROLE app']);
    expect(order).toEqual(['onConnect']);

    const failing = pgClientFactory('pg://x', {
      Client: AsClient,
      onConnect: () => {
        throw new Error('no such role');
      },
    });
    await expect(failing.create(ctx())).rejects.toThrow('no such role');
    expect(MockClient.instances.at(-1)!.endCalls).toBe(1);
  });

  it('ends the client when connect fails', async () => {
    MockClient.connect = 'fail';
    const factory = pgClientFactory('pg://x', { Client: AsClient });
    await expect(factory.create(ctx())).rejects.toThrow('ECONNREFUSED');
    expect(MockClient.instances[0].endCalls).toBe(1);
  });

  it('gives up immediately on abort, even when connect never settles, and ends the client', async () => {
    const { ac, created } = await hangingCreate(pgClientFactory('pg://x', { Client: AsClient }));
    const reason = new Error('createTimeoutMs elapsed');
    ac.abort(reason);
    await expect(created).rejects.toBe(reason);
    expect(MockClient.instances[0].endCalls).toBe(1);
  });

  it('does not even construct a client when the signal is already aborted', async () => {
    const factory = pgClientFactory('pg://x', { Client: AsClient });
    const ac = new AbortController();
    ac.abort(new Error('closed'));
    await expect(factory.create(ctx(ac.signal))).rejects.toThrow('closed');
    expect(MockClient.instances).toHaveLength(0);
  });

  it('destroys with end(), skipping clients whose connection already ended', async () => {
    const factory = pgClientFactory('pg://x', { Client: AsClient });
    const a = await factory.create(ctx());
    await factory.destroy(a);
    expect(mock(a).endCalls).toBe(1);
    const b = await factory.create(ctx());
    mock(b).emit('end'); // the backend went away
    await factory.destroy(b);
    expect(mock(b).endCalls).toBe(0);
  });

  it('validates with SELECT 1 by default, with validateQuery, or not at all', async () => {
    const dflt = pgClientFactory('pg://x', { Client: AsClient });
    const c = await dflt.create(ctx());
    await expect(dflt.validate!(c)).resolves.toBe(true);
    expect(mock(c).queries).toEqual(['SELECT 1']);

    const custom = pgClientFactory('pg://x', { Client: AsClient, validateQuery: 'SELECT now()' });
    const d = await custom.create(ctx());
    await custom.validate!(d);
    expect(mock(d).queries).toEqual(['SELECT now()']);

    expect(pgClientFactory('pg://x', { Client: AsClient, validateQuery: false }).validate).toBeUndefined();
  });

  it("watches 'error' and 'end', and keeps an 'error' listener for the client's whole life", async () => {
    const factory = pgClientFactory('pg://x', { Client: AsClient });
    const { ac, created } = await hangingCreate(factory);
    // An error while connecting (e.g. backend killed mid-handshake) does not crash.
    expect(() => MockClient.instances[0].emit('error', new Error('mid-handshake'))).not.toThrow();
    ac.abort(new Error('gave up'));
    await expect(created).rejects.toThrow('gave up');

    MockClient.connect = 'ok';
    const client = mock(await factory.create(ctx()));
    const broken = jest.fn();
    const unwatch = factory.watch!(client as unknown as Client, broken)!;
    client.emit('error', new Error('terminating connection due to administrator command'));
    client.emit('end');
    expect(broken).toHaveBeenCalledTimes(2);
    unwatch();
    expect(() => client.emit('error', new Error('late'))).not.toThrow();
    client.emit('end');
    expect(broken).toHaveBeenCalledTimes(2);
  });

  it('rejects bad options with a PoolConfigError', () => {
    expect(() => pgClientFactory('pg://x', { aplicationName: 'typo' } as PgClientFactoryOptions)).toThrow(
      PoolConfigError,
    );
    // The known keys are read off the options class, in declaration order.
    expect(() => pgClientFactory('pg://x', { aplicationName: 'typo' } as PgClientFactoryOptions)).toThrow(
      'known options are applicationName, onConnect, validateQuery, Client, queryTimeoutMs, keepAlive, keepAliveInitialDelayMs, isBroken.',
    );
    expect(() => pgClientFactory(42 as unknown as string)).toThrow(/config/);
    expect(() => pgClientFactory('pg://x', { validateQuery: '' })).toThrow(/validateQuery/);
    expect(() => pgClientFactory('pg://x', { onConnect: 'SET ROLE x' as never })).toThrow(/onConnect/);
  });

  it('serves a Pool: a client that breaks while idle is removed and replaced', async () => {
    const factory = pgClientFactory('pg://x', { Client: AsClient });
    const pool = new Pool<Client>({ name: 'pg', factory, min: 1, max: 2, logger: silentPoolLogger });
    await pool.start();
    try {
      const first = MockClient.instances[0];
      first.emit('error', new Error('backend died'));
      await expect(pool.use(async (c) => mock(c) !== first)).resolves.toBe(true);
    } finally {
      await pool.close();
    }
    expect(MockClient.instances.every((c) => c.endCalls <= 1)).toBe(true);
  });
});
