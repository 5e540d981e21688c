/**
 * All wiring in one place: from a Config to the services the HTTP app, the worker and the Discord client use.
 * Tests build the same graph with their own clock, mailer or Discord/Ghost URLs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuditLog, type AuditLog } from './audit/log.js';
import { systemClock, type Clock } from './clock.js';
import { managedRoles, type Config } from './config.js';
import { createCommitQueue, type CommitQueue } from './db/commit-queue.js';
import { openDatabase, type Db } from './db/open.js';
import { countEmails, createMailer, type Mailer } from './email/mailer.js';
import { createJobQueue, type JobQueue } from './jobs/queue.js';
import { createWorker, type JobKind, type Worker } from './jobs/worker.js';
import { LINK_EMAIL_JOB, linkEmailJob } from './linking/link-email.js';
import { createLinkTokens, type LinkTokens } from './linking/tokens.js';
import { createLogger, type Logger } from './log.js';
import { createSubscriptionStore, type SubscriptionStore } from './subscriptions/store.js';
import { createWebhookEventStore, type WebhookEventStore } from './webhooks/store.js';
import { createDiscordApi, type DiscordApi } from './discord/api.js';
import type { OAuthStatus } from './discord/oauth.js';
import { createBot, type Bot } from './discord/bot.js';
import { createGhostClient, type GhostClient } from './ghost/client.js';
import { GHOST_SYNC_JOB, ghostSyncJob } from './ghost/sync.js';
import { createGrantStore, type GrantStore } from './roles/grants.js';
import { GRANT_END_JOB, RECONCILE_JOB, SWEEP_JOB } from './roles/jobs.js';
import { reconcile, type ReconcilePayload } from './roles/reconcile.js';
import { sweep, type SweepProgress } from './roles/sweep.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { PRUNE_JOB, pruneJob } from './ops/prune.js';

export const VERSION = readFileSync(fileURLToPath(new URL('../VERSION', import.meta.url)), 'utf8').trim();

export interface Services {
  config: Config;
  db: Db;
  log: Logger;
  clock: Clock;
  audit: AuditLog;
  subscriptions: SubscriptionStore;
  tokens: LinkTokens;
  jobs: JobQueue;
  grants: GrantStore;
  /** Null when Discord is not configured (development only). */
  discord: { api: DiscordApi; bot: Bot } | null;
  webhookEvents: WebhookEventStore;
  /** Null when Ghost is not configured. */
  ghost: GhostClient | null;
  /** The last OAuth configuration problem Discord reported, for /health. */
  oauth: OAuthStatus;
  commits: CommitQueue;
  mailer: Mailer;
  worker: Worker;
  /** This process's Prometheus registry and instruments (GET /metrics). */
  metrics: Metrics;
  startedAt: Date;
  version: string;
}

const LANE_SLOTS = { email: 2, discord: 2, ghost: 1, local: 1 };

export interface ServiceOverrides {
  clock?: Clock;
  log?: Logger;
  mailer?: Mailer;
  /** Worker retry timing; tests shorten it. */
  retry?: { baseDelayMs?: number; maxDelayMs?: number; pollMs?: number };
  /** Discord pacing; tests shorten the inline wait and the member page to exercise the lane pause and paging. */
  discord?: { maxInlineWaitMs?: number; memberPage?: number };
}

export function createServices(config: Config, overrides: ServiceOverrides = {}): Services {
  const clock = overrides.clock ?? systemClock;
  const log = overrides.log ?? createLogger(config.logLevel, undefined, config.env);
  const db = openDatabase(join(config.dataDir, 'arbiter.db'));
  const audit = createAuditLog(db, clock);
  const subscriptions = createSubscriptionStore(db);
  const tokens = createLinkTokens(db, clock, config.linkTtlHours);
  const jobs = createJobQueue(db, clock);
  const metrics = createMetrics({ version: VERSION, clock, jobs: { kinds: () => Object.keys(kinds), backlog: () => jobs.backlog() } });
  const mailer = countEmails(overrides.mailer ?? createMailer(config, log), metrics);
  const grants = createGrantStore(db, clock);

  // Lanes: each kind of outside service gets its own slots, so a backlog for one never delays another.
  const kinds: Record<string, JobKind> = {
    [LINK_EMAIL_JOB]: { lane: 'email', run: linkEmailJob({ config, subscriptions, tokens, mailer, audit, log }) },
    // Work on our own data only, apart from the lanes that wait for outside services.
    [PRUNE_JOB]: { lane: 'local', run: pruneJob({ db, clock, config, log }) },
  };
  let discord: Services['discord'] = null;
  if (config.discord) {
    const api = createDiscordApi(config.discord, {
      log,
      audit,
      clock,
      metrics,
      maxInlineWaitMs: overrides.discord?.maxInlineWaitMs,
      tokenRetry: { baseMs: overrides.retry?.baseDelayMs, maxMs: overrides.retry?.maxDelayMs },
    });
    const managed = managedRoles(config);
    const bot = createBot({
      config: config.discord,
      api,
      managed,
      log,
      onMemberJoin(userId) {
        // Only people Arbiter has something for; everyone else's join is none of its business.
        if (subscriptions.byDiscordId(userId).length === 0 && grants.active(userId).length === 0) return;
        jobs.enqueue(RECONCILE_JOB, userId, { discordId: userId, cause: 'member joined the server' });
      },
    });
    const roleDeps = { config, api, subscriptions, grants, audit, log, metrics, roleName: bot.roleName };
    kinds[RECONCILE_JOB] = { lane: 'discord', run: (payload) => reconcile(roleDeps, payload as ReconcilePayload) };
    kinds[GRANT_END_JOB] = {
      lane: 'discord',
      run: async (payload) => void jobs.enqueue(RECONCILE_JOB, (payload as ReconcilePayload).discordId, payload),
    };
    kinds[SWEEP_JOB] = {
      lane: 'discord',
      run: async (payload, _job, context) => {
        const progress = payload as SweepProgress;
        // A sweep resumed after a wait has checked the permissions already.
        if (progress.after === undefined) await bot.checkPermissions();
        await sweep({ ...roleDeps, jobs, db }, progress, context, overrides.discord?.memberPage);
      },
    };
    discord = { api, bot };
  }
  const ghost = config.ghost ? createGhostClient(config.ghost) : null;
  if (config.ghost && ghost) {
    kinds[GHOST_SYNC_JOB] = { lane: 'ghost', run: ghostSyncJob({ config: config.ghost, ghost, subscriptions, audit }) };
  }
  const worker = createWorker({ queue: jobs, kinds, lanes: LANE_SLOTS, log, clock, audit, metrics, ...overrides.retry });

  return {
    config,
    db,
    log,
    clock,
    audit,
    subscriptions,
    tokens,
    jobs,
    grants,
    discord,
    webhookEvents: createWebhookEventStore(db),
    ghost,
    oauth: { lastConfigProblem: null },
    commits: createCommitQueue(db),
    mailer,
    worker,
    metrics,
    startedAt: clock.now(),
    version: VERSION,
  };
}
