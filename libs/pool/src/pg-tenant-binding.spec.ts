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
