import type { Clock } from '../clock.js';
import { isArbiterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuditLog } from '../audit/log.js';
import type { Job, JobQueue } from './queue.js';

export type JobHandler = (payload: unknown, job: Job) => Promise<void>;

export interface WorkerOptions {
  queue: JobQueue;
  handlers: Record<string, JobHandler>;
  log: Logger;
  clock: Clock;
  audit: AuditLog;
  concurrency?: number;
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
}

export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.75 + random() * 0.5));
}

export function createWorker(options: WorkerOptions): Worker {
  const { queue, handlers, log, clock, audit } = options;
  const kinds = Object.keys(handlers);
  const concurrency = options.concurrency ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 5_000;
  const maxDelayMs = options.maxDelayMs ?? 60 * 60_000;
  const pollMs = options.pollMs ?? 30_000;
  const running = new Set<Promise<void>>();
  let started = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let idleWaiters: (() => void)[] = [];

  const schedule = (next: Date | undefined) => {
    if (timer) clearTimeout(timer);
    if (stopping) return;
    const wait = next ? Math.max(0, Math.min(pollMs, next.getTime() - clock.now().getTime())) : pollMs;
    timer = setTimeout(pump, wait);
    timer.unref();
  };

  const settleIdle = (next = queue.nextRunAt(kinds)) => {
    if (running.size > 0) return;
    if (next && next.getTime() <= clock.now().getTime()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  async function run(job: Job): Promise<void> {
    const handler = handlers[job.kind]!;
    const started = Date.now();
    try {
      await handler(JSON.parse(job.payload), job);
      queue.complete(job.id);
      log.debug({ job: job.id, kind: job.kind, ms: Date.now() - started }, 'job done');
    } catch (err) {
      const message = isArbiterError(err) ? `${err.code}: ${err.message}` : (err as Error)?.message ?? String(err);
      const retryable = isArbiterError(err) ? err.retryable : true;
      const lastAttempt = job.attempts >= job.max_attempts;
      if (!retryable || lastAttempt) {
        queue.fail(job.id, message, null);
        audit.record({
          actor: 'system',
          action: 'job.dead',
          reason: message,
          details: { job: job.id, kind: job.kind, key: job.key, attempts: job.attempts },
        });
        log.error({ job: job.id, kind: job.kind, key: job.key, attempts: job.attempts, error: message }, 'job failed for good');
      } else {
        const delay = Math.max(retryDelay(job.attempts, baseDelayMs, maxDelayMs), isArbiterError(err) ? err.retryAfterMs ?? 0 : 0);
        queue.fail(job.id, message, new Date(clock.now().getTime() + delay));
        log.warn({ job: job.id, kind: job.kind, attempts: job.attempts, retryInMs: delay, error: message }, 'job will be retried');
      }
    }
  }

  function pump(): void {
    if (!started || stopping) return;
    while (running.size < concurrency) {
      let job: Job | undefined;
      try {
        job = queue.claim(kinds);
      } catch (err) {
        log.error({ err }, 'could not claim a job');
        break;
      }
      if (!job) break;
      const p = run(job).finally(() => {
        running.delete(p);
        pump();
      });
      running.add(p);
    }
    const next = queue.nextRunAt(kinds);
    schedule(next);
    settleIdle(next);
  }

  return {
    start() {
      if (started) return;
      started = true;
      const recovered = queue.recover();
      if (recovered > 0) log.warn({ recovered }, 'jobs interrupted by the last stop will run again');
      queue.onEnqueue(() => pump());
      pump();
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await Promise.allSettled([...running]);
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
  };
}
