/**
 * Retention: what Arbiter keeps only for a while.
 * - Link tokens go 7 days after they expired or were used; the newest token of each subscription stays, so that the
 *   panel can still say "expired" or "used" rather than "none sent".
 * - Done and dead jobs go 30 days after they finished. A dead job is shown on /admin/failed until then (an admin may
 *   retry it: it runs again and, once done, ages like any other); the audit log keeps its `job.dead` row.
 * - Webhook payloads older than RETENTION_DAYS are replaced by '{}' and their errors (which may quote the payload)
 *   dropped, with the time in pruned_at. The row stays with its delivery id, dedupe kind, type, outcome and times:
 *   a delivery named by an id is recognised as a duplicate forever.
 * - The OpenID Connect provider's state (sessions, grants, codes, tokens, interactions) goes once it expired.
 * - The audit log is kept.
 * Each batch is its own short transaction, with secure_delete on so that what is removed is overwritten in the
 * file; between batches others may write (the server's requests, or the server itself when run from the CLI).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Db } from '../db/open.js';
import type { JobHandler } from '../jobs/worker.js';
import type { Logger } from '../log.js';
import type { Services } from '../services.js';

export const PRUNE_JOB = 'prune';
export const PRUNE_KEY = 'daily';
export const PRUNE_FIRST_DELAY_MS = 5 * 60_000;
export const PRUNE_EVERY_MS = 86_400_000;
export const TOKEN_KEEP_DAYS = 7;
export const JOB_KEEP_DAYS = 30;
export const PRUNE_BATCH = 5_000;

const DAY_MS = 86_400_000;

export interface PruneCounts {
  linkTokens: number;
  doneJobs: number;
  deadJobs: number;
  webhookPayloads: number;
  oidcState: number;
}

export interface PruneResult {
  /** Counted only; nothing was changed. */
  dryRun: boolean;
  counts: PruneCounts;
  retentionDays: number;
}

export type PruneServices = Pick<Services, 'db' | 'clock' | 'config'>;

/** Each kind of old data: the rows it selects, and how a batch of them is removed. */
const TASKS: Record<keyof PruneCounts, { from: string; cutoff: 'tokens' | 'jobs' | 'payloads' | 'now'; remove: (select: string) => string; key?: string }> = {
  linkTokens: {
    from: `FROM link_tokens t WHERE (t.expires_at < @cutoff OR t.used_at < @cutoff)
      AND t.id < (SELECT MAX(n.id) FROM link_tokens n WHERE n.subscription_id = t.subscription_id)`,
    cutoff: 'tokens',
    remove: (select) => `DELETE FROM link_tokens WHERE id IN (${select})`,
  },
  doneJobs: {
    from: `FROM jobs t WHERE t.status = 'done' AND t.finished_at < @cutoff`,
    cutoff: 'jobs',
    remove: (select) => `DELETE FROM jobs WHERE id IN (${select})`,
  },
  deadJobs: {
    from: `FROM jobs t WHERE t.status = 'dead' AND t.finished_at < @cutoff`,
    cutoff: 'jobs',
    remove: (select) => `DELETE FROM jobs WHERE id IN (${select})`,
  },
  webhookPayloads: {
    from: `FROM webhook_events t WHERE t.pruned_at IS NULL AND t.received_at < @cutoff`,
    cutoff: 'payloads',
    remove: (select) => `UPDATE webhook_events SET payload = '{}', errors = NULL, pruned_at = @now WHERE id IN (${select})`,
  },
  oidcState: {
    from: `FROM oidc_store t WHERE t.expires_at < @cutoff`,
    cutoff: 'now',
    key: 't.rowid',
    remove: (select) => `DELETE FROM oidc_store WHERE rowid IN (${select})`,
  },
};

const SECURE_DELETE = ['OFF', 'ON', 'FAST'];

/**
 * Runs `work` in a transaction with secure_delete on, then puts the connection's setting back. The transaction takes
 * the write lock first (waiting for another writer as long as busy_timeout allows): one that read first could not
 * write after another connection had.
 */
export function securely<T>(db: Db, work: () => T): T {
  const was = db.pragma('secure_delete', { simple: true }) as number;
  db.pragma('secure_delete = ON');
  try {
    return db.transaction(work).immediate();
  } finally {
    db.pragma(`secure_delete = ${SECURE_DELETE[was] ?? 'OFF'}`);
  }
}

export async function prune(services: PruneServices, options: { dryRun?: boolean; batchSize?: number } = {}): Promise<PruneResult> {
  const { db, config } = services;
  const batch = options.batchSize ?? PRUNE_BATCH;
  const now = services.clock.now();
  const before = (days: number) => new Date(now.getTime() - days * DAY_MS).toISOString();
  const cutoffs = { tokens: before(TOKEN_KEEP_DAYS), jobs: before(JOB_KEEP_DAYS), payloads: before(config.retentionDays), now: now.toISOString() };
  const counts: PruneCounts = { linkTokens: 0, doneJobs: 0, deadJobs: 0, webhookPayloads: 0, oidcState: 0 };

  for (const [name, task] of Object.entries(TASKS) as [keyof PruneCounts, (typeof TASKS)[keyof PruneCounts]][]) {
    const cutoff = cutoffs[task.cutoff];
    if (options.dryRun) {
      counts[name] = db.prepare(`SELECT COUNT(*) ${task.from}`).pluck().get({ cutoff }) as number;
      continue;
    }
    const statement = db.prepare(task.remove(`SELECT ${task.key ?? 't.id'} ${task.from} LIMIT @batch`));
    const params = name === 'webhookPayloads' ? { cutoff, batch, now: now.toISOString() } : { cutoff, batch };
    for (;;) {
      const changes = securely(db, () => statement.run(params).changes);
      counts[name] += changes;
      if (changes < batch) break;
      await nextTurn();
    }
  }
  return { dryRun: options.dryRun ?? false, counts, retentionDays: config.retentionDays };
}

/** The daily job: prunes and logs one line with the counts. */
export function pruneJob(services: PruneServices & { log: Logger }): JobHandler {
  return async () => {
    const started = Date.now();
    const { counts, retentionDays } = await prune(services);
    services.log.info({ ...counts, retentionDays, ms: Date.now() - started }, 'pruned old data');
  };
}

/** Asks for a prune a few minutes after start and then every 24 hours; returns what stops asking. */
export function scheduleDailyPrune(services: Pick<Services, 'jobs' | 'clock'>): () => void {
  const request = (delayMs: number) =>
    services.jobs.enqueue(PRUNE_JOB, PRUNE_KEY, {}, { runAt: new Date(services.clock.now().getTime() + delayMs), budgetMs: PRUNE_EVERY_MS });
  request(PRUNE_FIRST_DELAY_MS);
  const timer = setInterval(() => request(0), PRUNE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
