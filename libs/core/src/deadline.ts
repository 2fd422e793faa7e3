/**
 * Settles like `result`, or rejects with `onTimeout()` after `ms`: the one bound every Reservoir hook
 * and loader call goes through, so nothing waits forever on user code. The timer is unref'd (it never
 * keeps a process alive) and cleared as soon as `result` settles; a plain value passes straight through.
 */
export function withDeadline<V>(result: V | PromiseLike<V>, ms: number, onTimeout: () => Error): Promise<V> {
  if (typeof (result as PromiseLike<V> | null)?.then !== 'function') return Promise.resolve(result as V);
  if (ms === Infinity) return Promise.resolve(result);
  return new Promise<V>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref?.();
    (result as PromiseLike<V>).then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
