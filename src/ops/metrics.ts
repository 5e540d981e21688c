/**
 * What a sysadmin watches, as Prometheus metrics: the instruments the rest of Arbiter updates, and gauges read from
 * the job queue at each scrape. Each Services object has its own registry, never prom-client's global one, so that
 * several apps in one process (as in tests) keep their own counts. Every label has a bounded set of values: route
 * patterns, never paths, which may carry link tokens or IDs.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../clock.js';
import type { JobBacklog } from '../jobs/queue.js';

export const WEBHOOK_OUTCOMES = [
  'accepted',
  'duplicate',
  'ignored',
  // Signed, but not valid (422).
  'invalid',
  // Signed and valid, but naming what roles.json does not know (422): an admin must look.
  'refused',
  'malformed',
  'unsigned',
  'bad_signature',
  // webhook-timestamp too far from now.
  'stale',
  'too_large',
  'unsupported',
  'rate_limited',
  'error',
] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** How one run of a job ended: done, failed and due again, put back without spending the attempt, or failed for good. */
export type JobOutcome = 'done' | 'retry' | 'deferred' | 'dead';

export interface Metrics {
  readonly registry: Registry;
  webhook(outcome: WebhookOutcome): void;
  /** An answer from Discord (REST or OAuth); `path` is the API path after /api/v10, IDs and all. */
  discordAnswer(method: string, path: string, status: number): void;
  roleChange(action: 'added' | 'removed', result: 'ok' | 'failed'): void;
  email(result: 'sent' | 'failed'): void;
  jobRun(kind: string, outcome: JobOutcome): void;
  /** `route` is a route pattern or a fixed label, never a request's path. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
}

export interface MetricsOptions {
  version: string;
  clock: Clock;
  jobs: {
    /** The job kinds this process runs: each has its gauges even when it has no job. */
    kinds(): readonly string[];
    backlog(): JobBacklog;
  };
}

const JOB_STATES = ['pending', 'running', 'dead'] as const;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Node's HTTP parser accepts a few dozen methods; the rare ones share one label. */
function methodLabel(method: string): string {
  const upper = method.toUpperCase();
  return METHODS.has(upper) ? upper : 'OTHER';
}

/**
 * A Discord API path as a route pattern: numeric segments (snowflakes) become `:id`, plain lowercase words and
 * `@me` stay (discord.js sends it as %40me), anything else becomes `:param`. The query string is dropped.
 */
export function discordRoute(path: string): string {
  return path
    .split('?')[0]!
    .split('/')
    .map((segment) => {
      const word = segment.replace(/^%40/i, '@');
      if (word === '' || word === '@me' || /^[a-z][a-z0-9_-]{0,31}$/.test(word)) return word;
      return /^\d+$/.test(word) ? ':id' : ':param';
    })
    .join('/');
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'arbiter_build_info',
    help: 'Always 1; the labels say which Arbiter and which Node.js are running.',
    labelNames: ['version', 'node'],
    registers,
  }).set({ version: options.version, node: process.version }, 1);

  const webhooks = new Counter({
    name: 'arbiter_webhooks_total',
    help: 'Billing webhook deliveries answered, by outcome: accepted, duplicate, ignored, or why it was refused.',
    labelNames: ['outcome'],
    registers,
  });
  const discord = new Counter({
    name: 'arbiter_discord_requests_total',
    help: 'Answers from the Discord API (bot REST calls and OAuth), by method, route pattern and HTTP status; 429 is a rate limit, counted also when the request was sent again.',
    labelNames: ['method', 'route', 'status'],
    registers,
  });
  const roleChanges = new Counter({
    name: 'arbiter_role_changes_total',
    help: 'Discord role changes by the reconciler, by action: made (ok), or not made (failed: refused, or retried later).',
    labelNames: ['action', 'result'],
    registers,
  });
  const emails = new Counter({
    name: 'arbiter_emails_total',
    help: 'Emails handed to the SMTP server (sent) or not (failed: retried, unless the server refused the address for good).',
    labelNames: ['result'],
    registers,
  });
  const jobRuns = new Counter({
    name: 'arbiter_job_runs_total',
    help: 'Job runs by kind and outcome: done, retry (failed, runs again later), deferred (waits for a rate limit without spending an attempt), dead (failed for good).',
    labelNames: ['kind', 'outcome'],
    registers,
  });
  const http = new Histogram({
    name: 'arbiter_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route pattern (unmatched: no route) and status.',
    labelNames: ['method', 'route', 'status'],
    registers,
  });
  // Every outcome is there from the start, so that a rate or an alert on one works before it first happens.
  for (const outcome of WEBHOOK_OUTCOMES) webhooks.inc({ outcome }, 0);
  for (const result of ['sent', 'failed']) emails.inc({ result }, 0);
  for (const action of ['added', 'removed']) for (const result of ['ok', 'failed']) roleChanges.inc({ action, result }, 0);

  // Read at each scrape. A database that cannot answer leaves these gauges empty rather than failing the scrape.
  const readBacklog = (): JobBacklog | null => {
    try {
      return options.jobs.backlog();
    } catch {
      return null;
    }
  };
  const jobs: Gauge<'kind' | 'state'> = new Gauge({
    name: 'arbiter_jobs',
    help: 'Jobs not finished, by kind and state: pending (waiting or due), running, dead (failed for good, see /admin/failed).',
    labelNames: ['kind', 'state'],
    registers,
    collect() {
      jobs.reset();
      const read = readBacklog();
      if (!read) return;
      for (const kind of options.jobs.kinds()) for (const state of JOB_STATES) jobs.set({ kind, state }, 0);
      for (const row of read.counts) jobs.set({ kind: row.kind, state: row.status }, row.n);
    },
  });
  const oldest: Gauge<'kind'> = new Gauge({
    name: 'arbiter_job_oldest_pending_seconds',
    help: 'How long the oldest due pending job of each kind has been waiting to run; 0 when none is due.',
    labelNames: ['kind'],
    registers,
    collect() {
      oldest.reset();
      const read = readBacklog();
      if (!read) return;
      const now = options.clock.now().getTime();
      for (const kind of options.jobs.kinds()) oldest.set({ kind }, 0);
      for (const row of read.oldestDue) oldest.set({ kind: row.kind }, Math.max(0, (now - Date.parse(row.runAt)) / 1000));
    },
  });

  return {
    registry,
    webhook: (outcome) => webhooks.inc({ outcome }),
    discordAnswer: (method, path, status) => discord.inc({ method: methodLabel(method), route: discordRoute(path), status: String(status) }),
    roleChange: (action, result) => roleChanges.inc({ action, result }),
    email: (result) => emails.inc({ result }),
    jobRun: (kind, outcome) => jobRuns.inc({ kind, outcome }),
    httpRequest: (method, route, status, seconds) => http.observe({ method: methodLabel(method), route, status: String(status) }, seconds),
  };
}
