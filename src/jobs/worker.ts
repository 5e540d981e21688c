/**
 * Runs jobs. Work is split into lanes (email, Discord, Ghost), each with its own slots, so that a backlog in one
 * (a wave of reconciles) never holds up another (a link email). A failed job is retried with backoff until its
 * time budget runs out; an error that says the whole lane must wait (a Discord rate limit, a rejected bot token)
 * puts the job back without spending an attempt and pauses its lane until then, instead of trying every job in it.
 */
import type { Clock } from '../clock.js';
import { isArbiterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuditLog } from '../audit/log.js';
import type { JobOutcome } from '../ops/metrics.js';
import type { Job, JobQueue } from './queue.js';

export interface JobContext {
  /** Saves progress: a retry or deferral of this job starts from this payload. */
  checkpoint(payload: unknown): void;
}

export type JobHandler = (payload: unknown, job: Job, context: JobContext) => Promise<void>;

export interface JobKind {
  lane: string;
  run: JobHandler;
}

export interface WorkerOptions {
  queue: JobQueue;
  kinds: Record<string, JobKind>;
  /** Concurrent jobs per lane; DEFAULT_LANE_SLOTS for a lane not named. */
  lanes?: Record<string, number> | undefined;
  log: Logger;
  clock: Clock;
  audit: AuditLog;
  /** Counts each run's outcome (for /metrics). */
  metrics?: { jobRun(kind: string, outcome: JobOutcome): void };
  /** First retry delay; doubles each attempt up to maxDelayMs, with +-25 % jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest sleep between looks at the table (enqueues wake the worker at once). */
  pollMs?: number;
}

export interface Worker {
  start(): void;
  /** Stops claiming and waits for the jobs that are running. */
  stop(): Promise<void>;
  /** Resolves when no due job of a handled kind is pending or running (tests and the demo use it). */
  idle(): Promise<void>;
  /** Lanes that wait, and until when. */
  pauses(): Record<string, string>;
}

export const DEFAULT_LANE_SLOTS = 2;

export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.75 + random() * 0.5));
}

interface Lane {
  name: string;
  kinds: string[];
  slots: number;
  running: Set<Promise<void>>;
  pausedUntil: number;
}

export function createWorker(options: WorkerOptions): Worker {
  const { queue, kinds, log, clock, audit } = options;
  const counted = (job: Job, outcome: JobOutcome) => options.metrics?.jobRun(job.kind, outcome);
  const baseDelayMs = options.baseDelayMs ?? 5_000;
  const maxDelayMs = options.maxDelayMs ?? 60 * 60_000;
  const pollMs = options.pollMs ?? 30_000;
  const lanes = new Map<string, Lane>();
  for (const [kind, { lane }] of Object.entries(kinds)) {
    const l = lanes.get(lane) ?? { name: lane, kinds: [], slots: options.lanes?.[lane] ?? DEFAULT_LANE_SLOTS, running: new Set(), pausedUntil: 0 };
    l.kinds.push(kind);
    lanes.set(lane, l);
  }
  const running = () => [...lanes.values()].reduce((n, l) => n + l.running.size, 0);
  // Outcomes the database would not take (disk full, I/O): kept and written again until it does.
  let unsaved: (() => void)[] = [];
  let started = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let idleWaiters: (() => void)[] = [];

  const nextWake = (): number | undefined => {
    const now = clock.now().getTime();
    let soonest: number | undefined;
    for (const lane of lanes.values()) {
      // A full lane takes its next job when one of its own ends (run's finally pumps), not on a timer.
      if (lane.running.size >= lane.slots) continue;
      const due = queue.nextRunAt(lane.kinds)?.getTime();
      if (due === undefined) continue;
      const at = Math.max(due, lane.pausedUntil);
      soonest = soonest === undefined ? at : Math.min(soonest, at);
    }
    return soonest === undefined ? undefined : Math.max(soonest, now);
  };

  const schedule = (next: number | undefined) => {
    if (timer) clearTimeout(timer);
    if (stopping) return;
    const wait = unsaved.length > 0 ? Math.min(pollMs, 1_000) : next !== undefined ? Math.min(pollMs, next - clock.now().getTime()) : pollMs;
    timer = setTimeout(pump, Math.max(0, wait));
    timer.unref();
  };

  const settleIdle = (next: number | undefined) => {
    if (running() > 0 || unsaved.length > 0) return;
    if (next !== undefined && next <= clock.now().getTime()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  /** Runs a write about a job's outcome; if the database refuses it, it is kept and tried again later. */
  const save = (what: string, job: Job, write: () => void) => {
    try {
      write();
    } catch (err) {
      log.error({ job: job.id, kind: job.kind, error: (err as Error).message }, `could not record that a job ${what}; will try again`);
      unsaved.push(() => write());
    }
  };

  const retrySaves = () => {
    const pending = unsaved;
    unsaved = [];
    for (const [i, write] of pending.entries()) {
      try {
        write();
      } catch {
        unsaved = [...pending.slice(i), ...unsaved];
        return;
      }
    }
  };

  const reportDead = (job: Job, message: string) => {
    audit.record({ actor: 'system', action: 'job.dead', reason: message, details: { job: job.id, kind: job.kind, key: job.key, attempts: job.attempts } });
    log.error({ job: job.id, kind: job.kind, key: job.key, outcome: 'dead', attempts: job.attempts, error: message }, 'job failed for good');
  };

  async function run(lane: Lane, job: Job): Promise<void> {
    const kind = kinds[job.kind]!;
    const started = Date.now();
    const context: JobContext = { checkpoint: (payload) => queue.checkpoint(job.id, payload) };
    try {
      await kind.run(JSON.parse(job.payload), job, context);
      save('finished', job, () => queue.complete(job.id));
      counted(job, 'done');
      log.info({ job: job.id, kind: job.kind, outcome: 'done', attempts: job.attempts, ms: Date.now() - started }, 'job done');
      return;
    } catch (err) {
      const message = isArbiterError(err) ? `${err.code}: ${err.message}` : (err as Error)?.message ?? String(err);
      const now = clock.now().getTime();
      if (isArbiterError(err) && err.pauseLane) {
        const until = now + (err.retryAfterMs ?? retryDelay(1, baseDelayMs, maxDelayMs));
        lane.pausedUntil = Math.max(lane.pausedUntil, until);
        save('must wait', job, () => queue.defer(job.id, message, new Date(until)));
        counted(job, 'deferred');
        // The attempt is given back: it did not get a fair try.
        log.warn({ job: job.id, kind: job.kind, outcome: 'deferred', attempts: job.attempts - 1, lane: lane.name, waitMs: until - now, error: message }, 'job waits: its lane is paused');
        return;
      }
      const retryable = isArbiterError(err) ? err.retryable : true;
      const giveUpAt = new Date(job.give_up_at).getTime();
      if (!retryable || now >= giveUpAt) {
        save('failed for good', job, () => {
          queue.fail(job.id, message, null);
          reportDead(job, message);
        });
        counted(job, 'dead');
        return;
      }
      const delay = Math.max(retryDelay(job.attempts, baseDelayMs, maxDelayMs), isArbiterError(err) ? err.retryAfterMs ?? 0 : 0);
      // The last try is at the end of the budget, not after it.
      const retryAt = new Date(Math.min(now + delay, giveUpAt));
      save('will be retried', job, () => queue.fail(job.id, message, retryAt));
      counted(job, 'retry');
      log.warn({ job: job.id, kind: job.kind, outcome: 'retry', attempts: job.attempts, retryInMs: retryAt.getTime() - now, error: message }, 'job will be retried');
    }
  }

  function pump(): void {
    if (!started || stopping) return;
    if (unsaved.length > 0) retrySaves();
    const now = clock.now().getTime();
    for (const lane of lanes.values()) {
      if (lane.pausedUntil > now) continue;
      while (lane.running.size < lane.slots && unsaved.length === 0) {
        let job: Job | undefined;
        try {
          job = queue.claim(lane.kinds);
        } catch (err) {
          log.error({ error: (err as Error).message }, 'could not claim a job');
          break;
        }
        if (!job) break;
        const p = run(lane, job).finally(() => {
          lane.running.delete(p);
          pump();
        });
        lane.running.add(p);
      }
    }
    let next: number | undefined;
    try {
      next = nextWake();
    } catch (err) {
      log.error({ error: (err as Error).message }, 'could not read the job queue');
    }
    schedule(next);
    settleIdle(next);
  }

  return {
    start() {
      if (started) return;
      started = true;
      const { requeued, dead } = queue.recover();
      if (requeued > 0) log.warn({ requeued }, 'jobs interrupted by the last stop will run again');
      for (const job of dead) {
        save('failed for good', job, () => reportDead(job, job.last_error ?? 'interrupted'));
        counted(job, 'dead');
      }
      queue.onEnqueue(() => pump());
      pump();
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await Promise.allSettled([...lanes.values()].flatMap((l) => [...l.running]));
      if (unsaved.length > 0) retrySaves();
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        try {
          settleIdle(nextWake());
        } catch {
          // the next pump settles it
        }
      });
    },
    pauses() {
      const now = clock.now().getTime();
      const result: Record<string, string> = {};
      for (const lane of lanes.values()) if (lane.pausedUntil > now) result[lane.name] = new Date(lane.pausedUntil).toISOString();
      return result;
    },
  };
}
