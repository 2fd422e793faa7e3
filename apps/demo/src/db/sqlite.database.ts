/**
 * The embedded default: one SQLite file under DATA_DIR, in WAL mode, pooled by `@reservoir/pool`.
 *
 * Layout: a pool of read-only connections ('db') plus a pool holding exactly one writer
 * ('db-writer'). Why:
 * - SQLite allows one writer at a time. A single pooled writer turns "database is locked"
 *   (SQLITE_BUSY) into an orderly FIFO queue with a timeout, which is what a pool is for.
 * - In WAL mode readers never block the writer nor each other, and each reader sees a consistent
 *   snapshot. better-sqlite3 is synchronous, so within one Node thread statements do not run in
 *   parallel anyway; what the reader pool bounds is the number of units of work that hold a
 *   connection across `await`s (a slow report, a read-then-compute, the load generator's slow reads),
 *   and that is exactly what pool utilization, health and the dashboard show.
 * - Read-only connections cannot write even by mistake.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ResourceFactory } from '@reservoir/pool';
import { SEED_FLAGS, SEED_ORGANISATIONS, SEED_PRICING, SEED_PROJECTS } from './seed';

export type Sqlite = Database.Database;

export const SQLITE_FILE_NAME = 'reservoir-demo.sqlite';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS organisations (
  id   TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  plan TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS org_flags (
  organisation_id TEXT NOT NULL REFERENCES organisations(id),
  flag            TEXT NOT NULL,
  enabled         INTEGER NOT NULL,
  PRIMARY KEY (organisation_id, flag)
);
CREATE TABLE IF NOT EXISTS projects (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  organisation_id TEXT NOT NULL REFERENCES organisations(id),
  name            TEXT NOT NULL,
  created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS projects_org ON projects(organisation_id);
CREATE TABLE IF NOT EXISTS tasks (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  organisation_id TEXT NOT NULL REFERENCES organisations(id),
  project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  title           TEXT NOT NULL,
  done            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_org_project ON tasks(organisation_id, project_id);
CREATE TABLE IF NOT EXISTS pricing (
  plan         TEXT PRIMARY KEY,
  monthly_eur  INTEGER NOT NULL,
  max_projects INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/**
 * Creates the directory, the file, the schema and (only when the database is new) the seed data.
 * Runs once, before the pools prefill. Returns the file path.
 */
export function prepareSqlite(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, SQLITE_FILE_NAME);
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);
    const seeded = db.prepare('SELECT count(*) AS n FROM organisations').get() as { n: number };
    if (seeded.n === 0) {
      db.transaction(() => {
        const org = db.prepare('INSERT INTO organisations (id, name, plan) VALUES (?, ?, ?)');
        for (const o of SEED_ORGANISATIONS) org.run(o.id, o.name, o.plan);
        const flag = db.prepare('INSERT INTO org_flags (organisation_id, flag, enabled) VALUES (?, ?, ?)');
        for (const [o, flags] of Object.entries(SEED_FLAGS)) {
          for (const [f, on] of Object.entries(flags)) flag.run(o, f, on ? 1 : 0);
        }
        const project = db.prepare('INSERT INTO projects (organisation_id, name) VALUES (?, ?)');
        const task = db.prepare('INSERT INTO tasks (organisation_id, project_id, title) VALUES (?, ?, ?)');
        for (const p of SEED_PROJECTS) {
          const id = project.run(p.org, p.name).lastInsertRowid;
          for (const t of p.tasks) task.run(p.org, id, t);
        }
        const price = db.prepare('INSERT INTO pricing (plan, monthly_eur, max_projects) VALUES (?, ?, ?)');
        for (const r of SEED_PRICING) price.run(r.plan, r.monthlyEur, r.maxProjects);
        db.prepare("INSERT INTO meta (key, value) VALUES ('pricing_revision', '1')").run();
      })();
    }
  } finally {
    db.close();
  }
  return file;
}

/** Pool factory of SQLite connections to `file` (read-only ones for the reader pool). */
export function sqliteFactory(file: string, readonly: boolean): ResourceFactory<Sqlite> {
  return {
    create: () => {
      const db = new Database(file, { readonly, fileMustExist: true, timeout: 5000 });
      db.pragma('foreign_keys = ON');
      return Promise.resolve(db);
    },
    destroy: (db) => {
      db.close();
    },
    validate: (db) => db.open,
  };
}
