/**
 * Constraint failures of either driver, classified once, so both repositories turn the same
 * database outcome into the same HTTP answer instead of a 500:
 * - a foreign-key failure on a write means the parent row is gone (deleted by a concurrent
 *   request): the repository answers "not found" where it has one, else 409;
 * - a unique violation means the row already exists: 409.
 */
import { ConflictException } from '@nestjs/common';

export type ConstraintKind = 'foreign-key' | 'unique';

/** pg: SQLSTATE 23503 / 23505. better-sqlite3: SQLITE_CONSTRAINT_FOREIGNKEY / _UNIQUE / _PRIMARYKEY. */
export function constraintKind(err: unknown): ConstraintKind | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case '23503':
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreign-key';
    case '23505':
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return 'unique';
    default:
      return undefined;
  }
}

/** Rethrows `err` as a 409 when it is a constraint failure, else unchanged. */
export function rethrowConstraint(err: unknown, what: string): never {
  const kind = constraintKind(err);
  if (kind === 'unique') throw new ConflictException(`${what}: it already exists`);
  if (kind === 'foreign-key') {
    throw new ConflictException(`${what}: a row it refers to was deleted meanwhile; reload and retry`);
  }
  throw err;
}
