/**
 * Base class of every error Reservoir throws. `name` is the concrete class name, so logs and
 * `err.name` checks read `PoolTimeoutError`, not `Error`; use `instanceof` in code.
 *
 * @publicApi
 */
export class ReservoirError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
