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
  /** Runs cut short by a stop of the process (a crash, a kill). */
  interruptions: number;
  run_at: string;
  /** After a failure at or past this time, the job is dead instead of retried. */
  give_up_at: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface KindSummary {
  pending: number;
  dead: number;
  lastDoneAt: string | null;
  /** The error of the newest job that failed (pending again, or dead), if it failed after the last success. */
  lastError: { message: string; at: string } | null;
}

export interface JobBacklog {
  counts: { kind: string; status: Exclude<JobStatus, 'done'>; n: number }[];
  oldestDue: { kind: string; runAt: string }[];
}

export interface EnqueueOptions {
  runAt?: Date;
  /** How long failures are retried, from now. Default RETRY_BUDGET_MS. */
  budgetMs?: number;
  /** Merged into a pending job, keep that job's payload (its saved progress) rather than replace it. */
  keepPayload?: boolean;
}

/** What reviving a dead job came to. */
export type Revival =
  | { status: 'queued'; job: Job }
  /** A pending job of the same (kind, key) already waits to do this work: the dead one is closed as done. */
  | { status: 'superseded'; job: Job; by: number }
  | { status: 'not_dead'; job: Job }
  | { status: 'missing' };

export interface JobQueue {
  /**
   * Adds a job, or refreshes the pending one of the same (kind, key): its payload is replaced, it runs no later
   * than asked, and its retry budget starts again. Call inside the transaction of the change that needs it.
   * Returns the id of the pending job.
   */
  enqueue(kind: string, key: string, payload?: unknown, options?: EnqueueOptions): number;
  /** Takes the next due job of these kinds whose (kind, key) is not already running. */
  claim(kinds: readonly string[]): Job | undefined;
  complete(id: number): void;
  /** Back to pending at `retryAt`, or dead when `retryAt` is null. */
  fail(id: number, error: string, retryAt: Date | null): void;
  /** Back to pending at `runAt` without spending the attempt: the job did not get a fair try (a rate limit). */
  defer(id: number, reason: string, runAt: Date): void;
  /** Saves a running job's progress: a retry or a deferral starts from this payload. */
  checkpoint(id: number, payload: unknown): void;
  /**
   * Jobs left running by a stop of the process go back to pending; one that was cut short MAX_INTERRUPTIONS times
   * is dead instead (it may be what takes the process down), and is returned.
   */
  recover(): { requeued: number; dead: Job[] };
  nextRunAt(kinds: readonly string[]): Date | undefined;
  counts(): Record<JobStatus, number>;
  /**
   * What waits, for /metrics: jobs not done by kind and status, and per kind when its oldest due pending job became
   * due. Reads only through the (status, run_at) index, so its cost does not grow with the finished jobs.
   */
  backlog(): JobBacklog;
  /** How one kind of work is going: what waits, what died, the last success and the last error still standing. */
  summary(kind: string): KindSummary;
  dead(limit?: number): Job[];
  get(id: number): Job | undefined;
  onEnqueue(listener: () => void): void;
  /**
   * A dead job back to pending, due now, with no attempts spent and a fresh retry budget (default RETRY_BUDGET_MS);
   * wakes the worker like an enqueue. Call inside the transaction of the change that asks for it.
   */
  revive(id: number, options?: { budgetMs?: number }): Revival;
}

/** Billing systems retry for days; so do side effects (an email, a Ghost write) through an outage. */
export const RETRY_BUDGET_MS = 3 * 86_400_000;
export const MAX_INTERRUPTIONS = 3;

/**
 * Takes the next due job of the kinds in @kinds (a JSON array) whose (kind, key) is not running. Each kind's first
 * due job is found through jobs_pending_kind, so the cost does not grow with what waits for other lanes (a burst of
 * link emails must not slow down every look for a Discord job, nor the other way round). Exported for a test of its plan.
 */
export const CLAIM_SQL = `UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = @now
    WHERE id = (
      SELECT c.id FROM json_each(@kinds) k
      JOIN jobs c ON c.id = (
        SELECT j.id FROM jobs j
        WHERE j.status = 'pending' AND j.kind = k.value AND j.run_at <= @now
          AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.kind = j.kind AND r.key = j.key)
        ORDER BY j.run_at, j.id LIMIT 1)
      ORDER BY c.run_at, c.id LIMIT 1)
    RETURNING *`;

/** When the earliest pending job of the kinds in ? (a JSON array) is due; per kind, as for CLAIM_SQL. Exported for a test of its plan. */
export const NEXT_RUN_SQL = `SELECT MIN((SELECT MIN(run_at) FROM jobs WHERE status = 'pending' AND kind = k.value)) FROM json_each(?) k`;

export function createJobQueue(db: Db, clock: Clock): JobQueue {
  const listeners: (() => void)[] = [];
  // One wake-up per turn of the event loop, however many jobs a transaction enqueued (a sweep enqueues many).
  let wakeScheduled = false;
  const wake = () => {
    wakeScheduled = false;
    for (const listener of listeners) listener();
  };
  // Listeners run after the current transaction has finished (better-sqlite3 transactions are synchronous).
  const scheduleWake = () => {
    if (!wakeScheduled && listeners.length > 0) {
      wakeScheduled = true;
      setImmediate(wake);
    }
  };
  const now = () => clock.now().toISOString();
  const upsert = db.prepare(`INSERT INTO jobs (kind, key, payload, status, run_at, give_up_at, created_at, updated_at)
    VALUES (@kind, @key, @payload, 'pending', @runAt, @giveUpAt, @now, @now)
    ON CONFLICT (kind, key) WHERE status = 'pending' DO UPDATE SET
      payload = CASE WHEN @keepPayload THEN payload ELSE excluded.payload END, run_at = MIN(run_at, excluded.run_at),
      give_up_at = excluded.give_up_at,
      updated_at = excluded.updated_at
    RETURNING id`).pluck();
  const claimOne = db.prepare(CLAIM_SQL);
  const complete = db.prepare(`UPDATE jobs SET status = 'done', last_error = NULL, updated_at = @now, finished_at = @now WHERE id = @id`);
  const pendingTwin = db.prepare(`SELECT id FROM jobs WHERE status = 'pending' AND kind = ? AND key = ?`).pluck();
  const retry = db.prepare(`UPDATE jobs SET status = 'pending', last_error = @error, run_at = @runAt,
    attempts = attempts - @refund, updated_at = @now WHERE id = @id`);
  const supersede = db.prepare(`UPDATE jobs SET status = 'done', last_error = @error, updated_at = @now, finished_at = @now WHERE id = @id`);
  const kill = db.prepare(`UPDATE jobs SET status = 'dead', last_error = @error, updated_at = @now, finished_at = @now WHERE id = @id`);
  const interrupted = db.prepare(`UPDATE jobs SET interruptions = interruptions + 1 WHERE id = ? RETURNING *`);
  const saveProgress = db.prepare(`UPDATE jobs SET payload = ?, updated_at = ? WHERE id = ? AND status = 'running'`);
  const getJob = db.prepare('SELECT * FROM jobs WHERE id = ?');
  const running = db.prepare(`SELECT id FROM jobs WHERE status = 'running'`).pluck();
  const next = db.prepare(NEXT_RUN_SQL).pluck();
  const counts = db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status');
  const waiting = db.prepare(`SELECT kind, status, COUNT(*) AS n FROM jobs WHERE status IN ('pending', 'running', 'dead') GROUP BY kind, status`);
  const oldestDue = db.prepare(`SELECT kind, MIN(run_at) AS runAt FROM jobs WHERE status = 'pending' AND run_at <= ? GROUP BY kind`);
  const summary = db.prepare(`SELECT
      COUNT(*) FILTER (WHERE status IN ('pending', 'running')) AS pending,
      COUNT(*) FILTER (WHERE status = 'dead') AS dead,
      MAX(finished_at) FILTER (WHERE status = 'done' AND last_error IS NULL) AS lastDoneAt
    FROM jobs WHERE kind = ?`);
  const lastFailure = db.prepare(`SELECT last_error AS message, updated_at AS at FROM jobs
    WHERE kind = ? AND status IN ('pending', 'dead') AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1`);
  const dead = db.prepare(`SELECT * FROM jobs WHERE status = 'dead' ORDER BY finished_at DESC LIMIT ?`);
  const revive = db.prepare(`UPDATE jobs SET status = 'pending', attempts = 0, interruptions = 0, run_at = @now,
    give_up_at = @giveUpAt, last_error = NULL, finished_at = NULL, updated_at = @now WHERE id = @id AND status = 'dead'`);

  /** Back to pending, unless a newer pending job for the same subject will do this work (only one may be pending). */
  const requeue = (job: Pick<Job, 'id' | 'kind' | 'key'>, error: string, runAt: Date, refund: 0 | 1) => {
    const params = { id: job.id, error: error.slice(0, 2000), now: now() };
    if (pendingTwin.get(job.kind, job.key) !== undefined) supersede.run(params);
    else retry.run({ ...params, runAt: runAt.toISOString(), refund });
  };

  const fail = db.transaction((id: number, error: string, retryAt: Date | null) => {
    const job = getJob.get(id) as Job | undefined;
    if (!job) return;
    if (retryAt === null) kill.run({ id, error: error.slice(0, 2000), now: now() });
    else requeue(job, error, retryAt, 0);
  });

  const defer = db.transaction((id: number, reason: string, runAt: Date) => {
    const job = getJob.get(id) as Job | undefined;
    if (job) requeue(job, reason, runAt, 1);
  });

  const recover = db.transaction(() => {
    let requeued = 0;
    const gone: Job[] = [];
    for (const id of running.all() as number[]) {
      const job = interrupted.get(id) as Job;
      if (job.interruptions >= MAX_INTERRUPTIONS) {
        kill.run({ id, error: `interrupted ${job.interruptions} times by a stop of the process; it may be what stops it`, now: now() });
        gone.push(getJob.get(id) as Job);
      } else {
        requeue(job, 'interrupted by a stop of the process', clock.now(), 0);
        requeued++;
      }
    }
    return { requeued, dead: gone };
  });

  return {
    enqueue(kind, key, payload = {}, options = {}) {
      const at = clock.now();
      const id = upsert.get({
        kind,
        key,
        payload: JSON.stringify(payload),
        runAt: (options.runAt ?? at).toISOString(),
        giveUpAt: new Date(at.getTime() + (options.budgetMs ?? RETRY_BUDGET_MS)).toISOString(),
        keepPayload: options.keepPayload ? 1 : 0,
        now: at.toISOString(),
      }) as number;
      scheduleWake();
      return id;
    },
    claim: (kinds) => claimOne.get({ now: now(), kinds: JSON.stringify(kinds) }) as Job | undefined,
    complete: (id) => void complete.run({ id, now: now() }),
    fail: (id, error, retryAt) => fail(id, error, retryAt),
    defer: (id, reason, runAt) => defer(id, reason, runAt),
    checkpoint: (id, payload) => void saveProgress.run(JSON.stringify(payload), now(), id),
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
    backlog: () => ({ counts: waiting.all() as JobBacklog['counts'], oldestDue: oldestDue.all(now()) as JobBacklog['oldestDue'] }),
    summary(kind) {
      const row = summary.get(kind) as Omit<KindSummary, 'lastError'>;
      const failure = lastFailure.get(kind) as { message: string; at: string } | undefined;
      const lastError = failure && (!row.lastDoneAt || failure.at > row.lastDoneAt) ? failure : null;
      return { ...row, lastError };
    },
    dead: (limit = 50) => dead.all(limit) as Job[],
    get: (id) => getJob.get(id) as Job | undefined,
    onEnqueue: (listener) => void listeners.push(listener),
    revive(id, options = {}) {
      const job = getJob.get(id) as Job | undefined;
      if (!job) return { status: 'missing' };
      if (job.status !== 'dead') return { status: 'not_dead', job };
      const at = clock.now();
      const twin = pendingTwin.get(job.kind, job.key) as number | undefined;
      if (twin !== undefined) {
        supersede.run({ id, error: job.last_error, now: at.toISOString() });
        return { status: 'superseded', job: getJob.get(id) as Job, by: twin };
      }
      revive.run({ id, now: at.toISOString(), giveUpAt: new Date(at.getTime() + (options.budgetMs ?? RETRY_BUDGET_MS)).toISOString() });
      scheduleWake();
      return { status: 'queued', job: getJob.get(id) as Job };
    },
  };
}
