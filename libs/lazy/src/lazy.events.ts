/** Consistency alerts, emitted on `events$` and logged. */
export type LazyAlertKind = 'stale-served' | 'refresh-failed' | 'drift-detected';

interface EventBase {
  /** Resource name: the registered key, or `Class.method` of a decorated method. */
  resource: string;
  /** Entry key: the registered key, or `Class.method(args)`. */
  key: string;
  /** Organisation of the entry; undefined for global resources. */
  organisationId: string | undefined;
}

/**
 * Everything `LazyLoader.events$` emits. Events are built only while someone subscribes.
 *
 * @publicApi
 */
export type LazyEvent =
  | (EventBase & { type: 'hit'; version: number })
  | (EventBase & { type: 'miss' })
  | (EventBase & { type: 'load'; version: number; durationMs: number; attempts: number })
  | (EventBase & { type: 'retry'; attempt: number; delayMs: number; error: unknown })
  | (EventBase & { type: 'error'; attempts: number; error: unknown })
  | (EventBase & { type: 'eviction' })
  | (EventBase & { type: 'invalidate' })
  | (EventBase & { type: 'alert'; alert: LazyAlertKind; message: string; version: number });

/** The minimal logger the core writes alerts and preload failures to (Nest's `Logger` fits). */
export interface LazyLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Normal-operation notes (a stale value served while it refreshes); optional. */
  debug?(message: string): void;
}
