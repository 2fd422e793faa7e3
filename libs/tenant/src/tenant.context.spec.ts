import { setTimeout as sleep } from 'node:timers/promises';
import { Test } from '@nestjs/testing';
import { TenantContext } from './tenant.context';
import { TenantModule } from './tenant.module';
import { TenantOptions } from './tenant.options';
import { getCurrentTenant } from './tenant.store';

describe('TenantContext', () => {
  const tenant = new TenantContext();

  it('is undefined outside a scope', () => {
    expect(tenant.organisationId).toBeUndefined();
    expect(getCurrentTenant()).toBeUndefined();
  });

  it('run() shows the id to fn and everything it awaits, and nothing after', async () => {
    const seen: Array<string | undefined> = [];
    const result = await tenant.run('acme', async () => {
      seen.push(tenant.organisationId);
      await sleep(1);
      seen.push(tenant.require());
      await new Promise<void>((resolve) => setImmediate(resolve));
      seen.push(getCurrentTenant());
      return 'done';
    });
    expect(result).toBe('done');
    expect(seen).toEqual(['acme', 'acme', 'acme']);
    expect(tenant.organisationId).toBeUndefined();
  });

  it('runOutside() hides the tenant from fn and everything it awaits, and restores it after', async () => {
    const seen: Array<string | undefined> = [];
    await tenant.run('acme', async () => {
      const inner = tenant.runOutside(async () => {
        seen.push(tenant.organisationId);
        await sleep(1);
        seen.push(getCurrentTenant());
        expect(() => tenant.require()).toThrow();
        return 'global';
      });
      seen.push(tenant.organisationId);
      expect(await inner).toBe('global');
      seen.push(tenant.organisationId);
    });
    expect(seen).toEqual([undefined, 'acme', undefined, 'acme']);
    expect(tenant.runOutside(() => 7)).toBe(7);
  });

  it('returns synchronous results as-is', () => {
    expect(tenant.run('acme', () => 41 + 1)).toBe(42);
  });

  it('keeps concurrent jobs apart', async () => {
    const job = (id: string, ms: number) =>
      tenant.run(id, async () => {
        const a = tenant.organisationId;
        await sleep(ms);
        return [a, tenant.organisationId];
      });
    const out = await Promise.all([job('a', 5), job('b', 1), job('c', 3)]);
    expect(out).toEqual([
      ['a', 'a'],
      ['b', 'b'],
      ['c', 'c'],
    ]);
  });

  it('nests a different tenant and restores the outer one', async () => {
    await tenant.run('outer', async () => {
      await tenant.run('inner', async () => {
        await sleep(1);
        expect(tenant.organisationId).toBe('inner');
      });
      expect(tenant.organisationId).toBe('outer');
    });
  });

  it('re-entering the current tenant does not open a new scope', () => {
    tenant.run('same', () => {
      tenant.run('same', () => expect(tenant.organisationId).toBe('same'));
      expect(tenant.organisationId).toBe('same');
    });
  });

  it('validates with the module rules when injected', async () => {
    const mod = await Test.createTestingModule({
      imports: [TenantModule.forRoot({ pattern: /^[a-z]+$/, maxLength: 5 })],
    }).compile();
    const ctx = mod.get(TenantContext);
    expect(ctx.run('abc', () => ctx.organisationId)).toBe('abc');
    expect(() => ctx.run('ABC', () => 0)).toThrow('does not match the pattern /^[a-z]+$/');
    expect(() => ctx.run('abcdef', () => 0)).toThrow('more than maxLength 5');
    await mod.close();
  });

  it('uses the defaults without Nest', () => {
    const ctx = new TenantContext(new TenantOptions());
    expect(ctx.validator.maxLength).toBe(64);
    expect(ctx.validator.pattern.source).toBe('^[A-Za-z0-9_-]+$');
  });
});
