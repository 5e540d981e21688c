import type { Db } from '../db/open.js';
import type { Clock } from '../clock.js';

export type JobStatus = 'pending' | 'running' | 'done' | 'dead';

export interface Job {
  id: number;
  kind: string;
  key: string;
  payload: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_at: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface EnqueueOptions {
  runAt?: Date;
  maxAttempts?: number;
}

export interface JobQueue {
  /**
   * Adds a job, or refreshes the pending one of the same (kind, key): its payload is replaced and it runs no later
   * than asked. Call inside the transaction of the change that needs it.
   */
  enqueue(kind: string, key: string, payload?: unknown, options?: EnqueueOptions): void;
  /** Takes the next due job of these kinds whose (kind, key) is not already running. */
  claim(kinds: readonly string[]): Job | undefined;
  complete(id: number): void;
  /** Back to pending at `retryAt`, or dead when `retryAt` is null. */
  fail(id: number, error: string, retryAt: Date | null): void;
  /** Jobs left running by a crash go back to pending; returns how many. */
  recover(): number;
  nextRunAt(kinds: readonly string[]): Date | undefined;
  counts(): Record<JobStatus, number>;
  dead(limit?: number): Job[];
  get(id: number): Job | undefined;
  onEnqueue(listener: () => void): void;
}

export const DEFAULT_MAX_ATTEMPTS = 12;

export function createJobQueue(db: Db, clock: Clock): JobQueue {
  const listeners: (() => void)[] = [];
  // One wake-up per turn of the event loop, however many jobs a transaction enqueued (a sweep enqueues many).
  let wakeScheduled = false;
  const wake = () => {
    wakeScheduled = false;
    for (const listener of listeners) listener();
  };
  const now = () => clock.now().toISOString();
  const upsert = db.prepare(`INSERT INTO jobs (kind, key, payload, status, max_attempts, run_at, created_at, updated_at)
    VALUES (@kind, @key, @payload, 'pending', @maxAttempts, @runAt, @now, @now)
    ON CONFLICT (kind, key) WHERE status = 'pending' DO UPDATE SET
      payload = excluded.payload, run_at = MIN(run_at, excluded.run_at), updated_at = excluded.updated_at`);
  const claimOne = db.prepare(`UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = @now
    WHERE id = (
      SELECT j.id FROM jobs j
      WHERE j.status = 'pending' AND j.run_at <= @now AND j.kind IN (SELECT value FROM json_each(@kinds))
        AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.kind = j.kind AND r.key = j.key)
      ORDER BY j.run_at, j.id LIMIT 1)
    RETURNING *`);
  const complete = db.prepare(`UPDATE jobs SET status = 'done', last_error = NULL, updated_at = @now, finished_at = @now WHERE id = @id`);
  const pendingTwin = db.prepare(`SELECT id FROM jobs WHERE status = 'pending' AND kind = ? AND key = ?`).pluck();
  const retry = db.prepare(`UPDATE jobs SET status = 'pending', last_error = @error, run_at = @runAt, updated_at = @now WHERE id = @id`);
  const supersede = db.prepare(`UPDATE jobs SET status = 'done', last_error = @error, updated_at = @now, finished_at = @now WHERE id = @id`);
  const kill = db.prepare(`UPDATE jobs SET status = 'dead', last_error = @error, updated_at = @now, finished_at = @now WHERE id = @id`);
  const getJob = db.prepare('SELECT * FROM jobs WHERE id = ?');
  const running = db.prepare(`SELECT id, kind, key FROM jobs WHERE status = 'running'`);
  const next = db.prepare(`SELECT MIN(run_at) FROM jobs WHERE status = 'pending' AND kind IN (SELECT value FROM json_each(?))`).pluck();
  const counts = db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status');
  const dead = db.prepare(`SELECT * FROM jobs WHERE status = 'dead' ORDER BY finished_at DESC LIMIT ?`);

  const fail = db.transaction((id: number, error: string, retryAt: Date | null) => {
    const job = getJob.get(id) as Job | undefined;
    if (!job) return;
    const params = { id, error: error.slice(0, 2000), now: now() };
    if (retryAt === null) kill.run(params);
    // A newer pending job for the same subject will do this work; a second pending one is not allowed.
    else if (pendingTwin.get(job.kind, job.key) !== undefined) supersede.run(params);
    else retry.run({ ...params, runAt: retryAt.toISOString() });
  });

  const recover = db.transaction(() => {
    let n = 0;
    for (const job of running.all() as Pick<Job, 'id' | 'kind' | 'key'>[]) {
      const params = { id: job.id, error: 'interrupted by a restart', now: now() };
      if (pendingTwin.get(job.kind, job.key) !== undefined) supersede.run(params);
      else retry.run({ ...params, runAt: params.now });
      n++;
    }
    return n;
  });

  return {
    enqueue(kind, key, payload = {}, options = {}) {
      upsert.run({
        kind,
        key,
        payload: JSON.stringify(payload),
        maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        runAt: (options.runAt ?? clock.now()).toISOString(),
        now: now(),
      });
      // Listeners run after the current transaction has finished (better-sqlite3 transactions are synchronous).
      if (!wakeScheduled && listeners.length > 0) {
        wakeScheduled = true;
        setImmediate(wake);
      }
    },
    claim: (kinds) => claimOne.get({ now: now(), kinds: JSON.stringify(kinds) }) as Job | undefined,
    complete: (id) => void complete.run({ id, now: now() }),
    fail: (id, error, retryAt) => fail(id, error, retryAt),
    recover: () => recover(),
    nextRunAt(kinds) {
      const at = next.get(JSON.stringify(kinds)) as string | null;
      return at ? new Date(at) : undefined;
    },
    counts() {
      const result: Record<JobStatus, number> = { pending: 0, running: 0, done: 0, dead: 0 };
      for (const row of counts.all() as { status: JobStatus; n: number }[]) result[row.status] = row.n;
      return result;
    },
    dead: (limit = 50) => dead.all(limit) as Job[],
    get: (id) => getJob.get(id) as Job | undefined,
    onEnqueue: (listener) => void listeners.push(listener),
  };
}
