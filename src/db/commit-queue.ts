import type { Db } from './open.js';

/**
 * Group commit. With synchronous=FULL every commit waits for the disk; the work of requests that arrive together
 * is run in one transaction (each in its own savepoint, so one failure does not undo the others) and they share a
 * single sync. Nobody is answered before the transaction holding their work has committed. Some errors (disk full,
 * I/O) make SQLite roll back the whole transaction, not only the savepoint: then the whole batch fails, with that
 * error, and nothing after it runs outside a transaction.
 */
export interface CommitQueue {
  run<T>(work: () => T): Promise<T>;
}

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export function createCommitQueue(db: Db): CommitQueue {
  let queue: Pending[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      db.transaction(() => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: db.transaction(item.work)() });
          } catch (err) {
            if (!db.inTransaction) throw err;
            outcomes.push({ ok: false, value: err });
          }
        }
      })();
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.value);
    });
  };

  return {
    run<T>(work: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
