import { pgTenantBinding, withTenantTransaction, type PgQueryable } from './pg-tenant-binding';

class FakeClient implements PgQueryable {
  log: string[] = [];
  failOn: string | undefined;
  async query(text: string, values?: unknown[]): Promise<unknown> {
    this.log.push(values ? `${text} ${JSON.stringify(values)}` : text);
    if (this.failOn !== undefined && text.includes(this.failOn)) throw new Error(`failed: ${text}`);
    return { rows: [] };
  }
}

describe('pgTenantBinding', () => {
  it('session mode: set_config(..., false) on bind, reset to empty on unbind, keeps affinity', async () => {
    const b = pgTenantBinding();
    const c = new FakeClient();
    expect(b).toMatchObject({ setting: 'app.organisation_id', mode: 'session', unbindOnRelease: false });
    await b.bind(c, 'acme');
    await b.rebind!(c, 'acme', 'globex');
    await b.unbind(c, 'globex');
    expect(c.log).toEqual([
      'SELECT set_config($1, $2, false) ["app.organisation_id","acme"]',
      'SELECT set_config($1, $2, false) ["app.organisation_id","globex"]',
      'SELECT set_config($1, $2, false) ["app.organisation_id",""]',
    ]);
  });

  it('transaction mode: BEGIN + set_config(..., true) on bind, COMMIT on release', async () => {
    const b = pgTenantBinding({ setting: 'app.tenant', mode: 'transaction' });
    const c = new FakeClient();
    expect(b.unbindOnRelease).toBe(true);
    await b.bind(c, 'acme');
    await b.unbind(c, 'acme');
    expect(c.log).toEqual(['BEGIN', 'SELECT set_config($1, $2, true) ["app.tenant","acme"]', 'COMMIT']);
  });

  it('passes the tenant as a parameter, never inside the SQL text', async () => {
    const c = new FakeClient();
    await pgTenantBinding().bind(c, "x'); DROP TABLE t; --");
    expect(c.log[0].startsWith('SELECT set_config($1, $2, false) ')).toBe(true);
  });

  it('propagates a failing unbind so the pool destroys the client', async () => {
    const c = new FakeClient();
    c.failOn = 'set_config';
    await expect(pgTenantBinding().unbind(c, 'acme')).rejects.toThrow('failed');
  });
});

describe('withTenantTransaction', () => {
  it('commits on success', async () => {
    const c = new FakeClient();
    await expect(withTenantTransaction(c, 'acme', async () => 7)).resolves.toBe(7);
    expect(c.log).toEqual([
      'BEGIN',
      'SELECT set_config($1, $2, true) ["app.organisation_id","acme"]',
      'COMMIT',
    ]);
  });

  it('rolls back and rethrows on failure', async () => {
    const c = new FakeClient();
    await expect(
      withTenantTransaction(c, 'acme', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(c.log.at(-1)).toBe('ROLLBACK');
  });
});

describe('pgTenantBinding transaction mode: COMMIT must really commit', () => {
  /** A client that answers COMMIT like PostgreSQL in the given state, with pg's notice event. */
  class TxClient extends FakeClient {
    private listeners: ((n: { code?: string }) => void)[] = [];
    constructor(private readonly commitAs: 'ok' | 'aborted' | 'no-transaction') {
      super();
    }
    on(_event: 'notice', l: (n: { code?: string }) => void): this {
      this.listeners.push(l);
      return this;
    }
    removeListener(_event: 'notice', l: (n: { code?: string }) => void): this {
      this.listeners = this.listeners.filter((x) => x !== l);
      return this;
    }
    override async query(text: string, values?: unknown[]): Promise<unknown> {
      await super.query(text, values);
      if (text !== 'COMMIT') return { rows: [] };
      if (this.commitAs === 'no-transaction') for (const l of this.listeners) l({ code: '25P01' });
      return { command: this.commitAs === 'aborted' ? 'ROLLBACK' : 'COMMIT', rows: [] };
    }
    get listening(): number {
      return this.listeners.length;
    }
  }

  it('a COMMIT that committed resolves, and stops listening for notices', async () => {
    const c = new TxClient('ok');
    await pgTenantBinding({ mode: 'transaction' }).unbind(c, 'acme');
    expect(c.listening).toBe(0);
  });

  it('a COMMIT answered ROLLBACK (the transaction had failed) rejects', async () => {
    const c = new TxClient('aborted');
    await expect(pgTenantBinding({ mode: 'transaction' }).unbind(c, 'acme')).rejects.toThrow(
      /COMMIT on release answered ROLLBACK/,
    );
  });

  it('a COMMIT with no transaction in progress (ended inside the callback, or by a pooler) rejects', async () => {
    const c = new TxClient('no-transaction');
    await expect(pgTenantBinding({ mode: 'transaction' }).unbind(c, 'acme')).rejects.toThrow(
      /found no transaction in progress/,
    );
    expect(c.listening).toBe(0);
  });
});
