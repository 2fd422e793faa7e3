import { NotFoundException, type PipeTransform } from '@nestjs/common';

/**
 * Largest id the demo looks up. Both databases' id columns hold more (SQLite INTEGER and PostgreSQL
 * bigint: 2^63 - 1), but ids travel as JavaScript numbers, exact only up to 2^53 - 1; no row ever
 * gets a larger id, so anything above cannot exist.
 */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/**
 * A path id that cannot name a row (not a decimal integer, zero, negative, or above MAX_ID) is
 * `404 <what> <id> not found` before any query: PostgreSQL would fail on a bigint overflow (a 500)
 * where SQLite just finds nothing, and "no such resource" is the truthful answer for both.
 */
export class ParseIdPipe implements PipeTransform<string, number> {
  constructor(private readonly what: string) {}

  transform(value: string): number {
    const id = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
    if (!(id >= 1 && id <= MAX_ID)) {
      throw new NotFoundException(`${this.what} ${JSON.stringify(String(value).slice(0, 40))} not found`);
    }
    return id;
  }
}
