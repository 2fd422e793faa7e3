import { DemoSetupError, checkPostgresSetup, explainPostgresSetupError, sqlIdent } from './postgres.setup';

const URL_ = 'postgres://app:secret@db.example:6543/shop';
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('explainPostgresSetupError', () => {
  it('never prints the password, and names server, database and role', () => {
    const text = explainPostgresSetupError(pgError('3D000', 'database "shop" does not exist'), URL_)!;
    expect(text).not.toContain('secret');
    expect(text).toContain('PostgreSQL at db.example:6543/shop as "app"');
    expect(text).toContain(
      'psql -h db.example -p 6543 -U postgres -d postgres -c "CREATE DATABASE shop OWNER app;"',
    );
  });

  it('says what to run for each setup failure a new user meets', () => {
    const cases: Array<[string, string, string]> = [
      ['28P01', 'password authentication failed for user "app"', "ALTER ROLE app PASSWORD 'change-me';"],
      ['28000', 'role "app" does not exist', "CREATE ROLE app LOGIN PASSWORD 'change-me';"],
      ['28000', 'no pg_hba.conf entry for host "10.0.0.1"', 'pg_hba.conf'],
      ['42501', 'permission denied for schema public', 'GRANT CREATE ON SCHEMA public TO app;'],
      ['42501', 'permission denied to create role', 'GRANT reservoir_demo_app TO app;'],
      ['42501', 'must be owner of table projects', 'ALTER DATABASE shop OWNER TO app;'],
      ['ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:6543', 'pg_ctlcluster'],
    ];
    for (const [code, message, expected] of cases) {
      expect(explainPostgresSetupError(pgError(code, message), URL_)).toContain(expected);
    }
    expect(
      explainPostgresSetupError(new Error('Connection terminated due to connection timeout'), URL_),
    ).toContain('nothing answers there');
  });

  it('leaves errors it does not know alone', () => {
    expect(explainPostgresSetupError(pgError('42601', 'syntax error'), URL_)).toBeUndefined();
    expect(explainPostgresSetupError(new Error('boom'), URL_)).toBeUndefined();
  });

  it('quotes identifiers that need it', () => {
    expect(sqlIdent('shop_1')).toBe('shop_1');
    expect(sqlIdent('My-Shop')).toBe('"My-Shop"');
    expect(sqlIdent('a"b')).toBe('"a""b"');
  });

  it('checkPostgresSetup: a refused connection becomes a DemoSetupError with the start command', async () => {
    const err = await checkPostgresSetup('postgres://postgres@127.0.0.1:1/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DemoSetupError);
    expect((err as Error).message).toContain('nothing answers there');
    expect((err as Error).name).toBe('DemoSetupError');
  });
});
