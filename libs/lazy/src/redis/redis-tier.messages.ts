import { describeValue } from '@reservoir/core';

/**
 * Every message `@reservoir/lazy/redis` throws or logs, in one place. Each says what happened, with
 * the numbers, and how to fix it.
 */
export const RedisTierMessages = {
  invalidOption: (option: string, given: unknown, allowed: string): string =>
    `Invalid RedisTier option "${option}": got ${describeValue(given)}, expected ${allowed}.`,

  urlAndClient:
    'either url (an ioredis connection string) or client (an existing ioredis client), not both; ' +
    'pass one of them',

  notAClient: 'an ioredis client (an object with duplicate, status and evalsha)',

  unavailable: (op: string, state: string, why: string): string =>
    `RedisTier: ${op} skipped, the tier is ${state} (${why}). Callers serve from L1 or load locally; ` +
    'the tier reconnects on its own.',

  timedOut: (op: string, ms: number): string =>
    `RedisTier: ${op} got no answer from Redis within commandTimeoutMs ${ms} ms.`,

  notSerializable: (path: string, given: unknown, why: string): string =>
    `A shared lazy value cannot be encoded: ${path} is ${describeValue(given)} (${why}). Shared values must be ` +
    'JSON data: plain objects, arrays, strings, finite numbers, booleans, null and Date. Return plain data ' +
    'from the loader, pass a codec that handles this type, or mark the resource shared: false.',

  notDecodable: (key: string, why: string): string =>
    `RedisTier: the L2 entry "${key}" could not be decoded (${why}); it is treated as a miss and loaded again. ` +
    'Instances of one fleet must use the same codec and prefix.',

  closed: 'RedisTier is closed.',
} as const;
