import { escapeTenantValue } from './tenant.messages';
import { TenantOptions, resolveTenantOptions } from './tenant.options';
import { TenantIdValidator } from './tenant.validator';

describe('TenantIdValidator (extraction rules)', () => {
  const v = new TenantIdValidator(new TenantOptions());

  it.each(['a', 'acme', 'ACME_corp-42', 'x'.repeat(64)])('accepts %j', (id) => {
    expect(v.problemOf(id)).toBeUndefined();
    expect(v.problemOf(id, true)).toBeUndefined();
    expect(v.validate(id, 'test')).toBe(id);
  });

  it.each([
    [undefined, 'missing'],
    [null, 'missing'],
    ['', 'empty'],
    ['x'.repeat(65), 'too-long'],
    ['a\tb', 'control-characters'],
    ['a,b', 'pattern'],
    ['a b', 'pattern'],
    ['ａcme', 'non-ascii'],
    [['a'], 'list'],
    [{}, 'not-a-string'],
    [1, 'not-a-string'],
  ])('%j → %s', (value, problem) => {
    expect(v.problemOf(value)).toBe(problem);
  });

  it('treats a comma in a header as a repeated header, before the pattern', () => {
    expect(v.problemOf('a, b', true)).toBe('list');
    expect(v.problemOf('a,b', true)).toBe('list');
  });

  it('reports length before content, so huge values are never scanned or echoed', () => {
    expect(v.problemOf('\u0000'.repeat(1000))).toBe('too-long');
  });

  it('honours a custom pattern and maxLength', () => {
    const custom = new TenantIdValidator({ pattern: /^org_[0-9]+$/, maxLength: 8 });
    expect(custom.problemOf('org_1234')).toBeUndefined();
    expect(custom.problemOf('org_12345')).toBe('too-long');
    expect(custom.problemOf('acme')).toBe('pattern');
  });
});

describe('escapeTenantValue', () => {
  it('JSON-quotes and escapes everything outside printable ASCII', () => {
    expect(escapeTenantValue('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(escapeTenantValue('a\nb\u001b[31m')).toBe('"a\\nb\\u001b[31m"');
    expect(escapeTenantValue('\u202e\u2028é')).toBe('"\\u202e\\u2028\\u00e9"');
    expect(escapeTenantValue('😀')).toBe('"\\ud83d\\ude00"');
  });
  it('truncates to 40 characters', () => {
    expect(escapeTenantValue('y'.repeat(41))).toBe(`"${'y'.repeat(40)}..."`);
  });
});

describe('resolveTenantOptions', () => {
  it('fills in the defaults from TenantOptions', () => {
    const o = resolveTenantOptions({});
    expect(o).toBeInstanceOf(TenantOptions);
    expect({ ...o }).toEqual({
      header: 'x-organisation-id',
      required: true,
      pattern: /^[A-Za-z0-9_-]+$/,
      maxLength: 64,
    });
    expect(resolveTenantOptions()).toEqual(o);
  });
  it('lower-cases the header and treats undefined as "use the default"', () => {
    const resolve = () => 'x';
    const o = resolveTenantOptions({ header: 'X-Org', required: undefined, maxLength: 10, resolve });
    expect(o.header).toBe('x-org');
    expect(o.required).toBe(true);
    expect(o.maxLength).toBe(10);
    expect(o.resolve).toBe(resolve);
  });
});
