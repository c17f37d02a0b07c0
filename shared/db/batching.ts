/**
 * Request coalescing for the table: calls made by concurrent work (the records of one SQS batch are
 * processed side by side) in the same turn of the event loop are sent as one batch request, and
 * identical concurrent reads share one answer. Each caller still awaits its own result, so the code
 * calling `get`/`put` is unchanged and ordering inside one record is kept: a write resolves only
 * once the batch that carried it is stored.
 */

interface Pending<K, V> {
  key: K;
  resolve: (value: V) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects keys until the current turn of the event loop ends (`setImmediate`), then calls `run`
 * with at most `max` of them per call; `run` returns one result per key, in order.
 */
export function coalescer<K, V>(options: {
  max: number;
  run: (keys: K[]) => Promise<V[]>;
}): (key: K) => Promise<V> {
  let queue: Array<Pending<K, V>> = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const taken = queue;
    queue = [];
    for (let i = 0; i < taken.length; i += options.max) {
      const chunk = taken.slice(i, i + options.max);
      options.run(chunk.map((p) => p.key)).then(
        (values) => {
          chunk.forEach((p, j) => {
            p.resolve(values[j]!);
          });
        },
        (error: unknown) => {
          for (const p of chunk) p.reject(error);
        },
      );
    }
  };
  return (key: K) =>
    new Promise<V>((resolve, reject) => {
      queue.push({ key, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}

/**
 * Single flight: concurrent calls with the same key share one in-flight promise (a query several
 * records need at once); the next call after it settles runs again (no caching beyond that).
 */
export function singleFlight<V>(): (key: string, run: () => Promise<V>) => Promise<V> {
  const inFlight = new Map<string, Promise<V>>();
  return (key, run) => {
    const current = inFlight.get(key);
    if (current) return current;
    const started = run().finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };
}
