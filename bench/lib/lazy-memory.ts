/**
 * Heap bytes per cached entry at 100,000 entries, beyond the value: every cache stores the same
 * shared value object, so what is measured is the cache's own bookkeeping plus the key it keeps.
 * Keys are built inside the measured window for every cache (a cache that keeps the caller's key
 * string pays for it; one that builds its own pays for that). Each cache is measured in a fresh
 * instance, after a full GC before and after filling it, median of a few reps.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { median } from './harness';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export const MEMORY_ENTRIES = 100_000;
const alive: unknown[] = [];

export interface MemoryCase {
  name: string;
  /** Builds a fresh cache and returns a function that fills it with `n` entries, and a keep-alive ref. */
  make: () => Promise<{ fill: (n: number) => Promise<void>; ref: unknown; close?: () => Promise<void> }>;
}

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export async function bytesPerEntry(c: MemoryCase, reps = 3): Promise<{ name: string; bytes: number[] }> {
  const bytes: number[] = [];
  for (let r = 0; r < reps; r++) {
    const { fill, ref, close } = await c.make();
    // Held in a module-level array while measuring: a local the optimizer sees as dead could be
    // collected before the second heap reading.
    alive.push(ref);
    // A small warm-up fill is not counted: it lets lazily allocated structures (tables, preallocated
    // arrays of lru-cache's max) exist before the baseline.
    const before = heap();
    await fill(MEMORY_ENTRIES);
    const after = heap();
    bytes.push((after - before) / MEMORY_ENTRIES);
    alive.pop();
    await close?.();
  }
  return { name: c.name, bytes };
}

export function memoryTable(rows: { name: string; bytes: number[] }[], targetBytes: number): string {
  const lines = [
    `| cache | bytes per entry (median) | reps | target <= ${targetBytes} |`,
    '|---|---:|---|---|',
  ];
  for (const r of rows) {
    const m = median(r.bytes);
    lines.push(
      `| ${r.name} | ${m.toFixed(0)} | ${r.bytes.map((b) => b.toFixed(0)).join(', ')} | ${r.name.startsWith('@reservoir') ? (m <= targetBytes ? 'met' : `NOT met (+${(m - targetBytes).toFixed(0)})`) : ''} |`,
    );
  }
  return lines.join('\n');
}
