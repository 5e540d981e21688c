/**
 * Failed work: jobs that failed for good (described in words, retried by an admin with a reason) and deliveries that
 * were signed but could not be applied.
 */
import { z } from 'zod';
import { SNOWFLAKE } from '../config.js';
import { ArbiterError } from '../errors.js';
import { GHOST_SYNC_JOB } from '../ghost/sync.js';
import type { Job, Revival } from '../jobs/queue.js';
import { LINK_EMAIL_JOB } from '../linking/link-email.js';
import { PRUNE_JOB } from '../ops/prune.js';
import { GRANT_END_JOB, RECONCILE_JOB, SWEEP_JOB } from '../roles/jobs.js';
import type { Services } from '../services.js';
import type { WebhookEventRow } from '../webhooks/store.js';
import { actorOf, type AdminIdentity, type Flash } from './access.js';
import { parseInput, Reason } from './input.js';

/** Dead jobs and deliveries shown, newest first; the page says how many more there are. */
export const FAILED_PAGE_SIZE = 100;
/** Jobs revived by one "retry all": enough for any real backlog, small enough for one audit row to list them. */
export const RETRY_ALL_MAX = 500;

export const KIND_WORDS: Record<string, { name: string; does: string }> = {
  [LINK_EMAIL_JOB]: { name: 'Link email', does: 'emails the subscriber a link to connect their Discord account' },
  [RECONCILE_JOB]: { name: 'Role reconcile', does: 'gives and takes Discord roles to match what the person should hold' },
  [GHOST_SYNC_JOB]: { name: 'Ghost update', does: 'writes the Discord ID onto the Ghost member' },
  [SWEEP_JOB]: { name: 'Sweep', does: 'checks the roles of every member of the server' },
  [GRANT_END_JOB]: { name: 'End of a grant or block', does: 'asks for a reconcile when a grant or block ends' },
  [PRUNE_JOB]: { name: 'Prune', does: 'removes old link tokens, finished jobs and webhook payloads' },
};

export interface JobSubject {
  discordId: string | null;
  subscriptionId: string | null;
  email: string | null;
  /** Roles the error names, by name when the server knows it. */
  roles: { id: string | null; name: string | null }[];
  /** Why the job was queued, when it says. */
  cause: string | null;
  /** The subject in one line, for flashes and audit details. */
  words: string;
}

export interface DeadJob {
  id: number;
  kind: string;
  kindName: string;
  does: string;
  subject: JobSubject;
  attempts: number;
  diedAt: string | null;
  error: string;
}

export interface DeadJobs {
  jobs: DeadJob[];
  /** All dead jobs, shown or not. */
  total: number;
}

export interface Deliveries {
  rows: Delivery[];
  total: number;
}

export interface Delivery {
  id: number;
  receivedAt: string;
  scheme: string;
  type: string | null;
  subscriptionId: string | null;
  errors: string[];
  /** Pretty-printed when it is JSON, as received otherwise. */
  payload: string;
  /** When the payload and its errors were removed (older than RETENTION_DAYS, or the subscriber was erased). */
  removedAt: string | null;
}

/** The reason an admin gave for a change, or a 400 saying what is wrong with it. */
export function parseReason(body: unknown): string {
  return parseInput(z.object({ reason: Reason }), body ?? {}).reason;
}

/** A job id from an address; anything else names no job. */
export function parseJobId(value: unknown): number {
  const id = typeof value === 'string' && /^[1-9]\d{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id)) throw new ArbiterError('not_found', 'There is no such job: a job number is a positive whole number.', { status: 404 });
  return id;
}

const ROLE_ID = /\brole (\d{17,20})\b/g;
const QUOTED_ROLE = /\b(?:adding|removing) "([^"]+)"/g;

/** The roles an error names: by ID where Discord's message has it, else by the name the reconciler quoted. */
function rolesIn(error: string, roleName: (id: string) => string | undefined): JobSubject['roles'] {
  const seen = new Map<string, JobSubject['roles'][number]>();
  for (const [, id] of error.matchAll(ROLE_ID)) seen.set(id!, { id: id!, name: roleName(id!) ?? null });
  if (seen.size > 0) return [...seen.values()];
  for (const [, quoted] of error.matchAll(QUOTED_ROLE)) {
    const role = SNOWFLAKE.test(quoted!) ? { id: quoted!, name: roleName(quoted!) ?? null } : { id: null, name: quoted! };
    seen.set(quoted!, role);
  }
  return [...seen.values()];
}

function payloadOf(job: Job): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(job.payload);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);

export function describeSubject(services: Pick<Services, 'subscriptions' | 'discord'>, job: Job): JobSubject {
  const payload = payloadOf(job);
  const roleName = (id: string) => services.discord?.bot.roleName(id);
  const none: JobSubject = { discordId: null, subscriptionId: null, email: null, roles: [], cause: null, words: '' };
  switch (job.kind) {
    case LINK_EMAIL_JOB:
    case GHOST_SYNC_JOB: {
      const subscriptionId = text(payload.subscriptionId) ?? job.key;
      const subscription = services.subscriptions.get(subscriptionId);
      const email = subscription?.email ?? null;
      return {
        ...none,
        subscriptionId,
        email,
        discordId: subscription?.discord_id ?? null,
        words: `subscription ${subscriptionId}${email ? ` (${email})` : ''}`,
      };
    }
    case RECONCILE_JOB: {
      const discordId = text(payload.discordId) ?? job.key;
      const roles = rolesIn(job.last_error ?? '', roleName);
      const named = roles.map((r) => `"${r.name ?? r.id}"`).join(', ');
      return { ...none, discordId, roles, cause: text(payload.cause), words: `Discord user ${discordId}${named ? `, role ${named}` : ''}` };
    }
    case SWEEP_JOB:
      return { ...none, roles: rolesIn(job.last_error ?? '', roleName), words: 'every member of the server' };
    default:
      return { ...none, words: `${job.kind} ${job.key}` };
  }
}

function deadJob(services: Pick<Services, 'subscriptions' | 'discord'>, job: Job): DeadJob {
  const words = KIND_WORDS[job.kind] ?? { name: job.kind, does: 'work of a kind this version does not know' };
  return {
    id: job.id,
    kind: job.kind,
    kindName: words.name,
    does: words.does,
    subject: describeSubject(services, job),
    attempts: job.attempts,
    diedAt: job.finished_at,
    error: job.last_error ?? 'no error was recorded',
  };
}

/** The newest jobs that failed for good, in words. */
export function listDeadJobs(services: Pick<Services, 'jobs' | 'subscriptions' | 'discord'>, limit = FAILED_PAGE_SIZE): DeadJobs {
  return { jobs: services.jobs.dead(limit).map((job) => deadJob(services, job)), total: services.jobs.counts().dead };
}

export type RetryOutcome =
  | { status: 'queued'; job: DeadJob }
  /** The same work was already waiting in another job; the dead one was closed. */
  | { status: 'superseded'; job: DeadJob; by: number };

type RetryServices = Pick<Services, 'jobs' | 'subscriptions' | 'discord' | 'audit' | 'commits'>;

function outcomeOf(revival: Extract<Revival, { status: 'queued' | 'superseded' }>, before: DeadJob): RetryOutcome {
  return revival.status === 'queued' ? { status: 'queued', job: before } : { status: 'superseded', job: before, by: revival.by };
}

/** One dead job back to pending (or closed, if its work already waits), with its audit row, in one transaction. */
export async function retryJob(services: RetryServices, admin: AdminIdentity, id: number, reason: string): Promise<RetryOutcome> {
  return services.commits.run(() => {
    const found = services.jobs.get(id);
    if (!found) throw new ArbiterError('not_found', `There is no job ${id}.`, { status: 404 });
    if (found.status !== 'dead') {
      const now = found.status === 'done' ? 'has finished' : found.status === 'running' ? 'is running' : 'is waiting to run';
      throw new ArbiterError('conflict', `Job ${id} has not failed for good: it ${now}. Nothing was changed.`, { status: 409 });
    }
    const before = deadJob(services, found);
    const revival = services.jobs.revive(id);
    if (revival.status !== 'queued' && revival.status !== 'superseded') throw new Error(`job ${id} could not be revived: ${revival.status}`);
    const outcome = outcomeOf(revival, before);
    services.audit.record({
      actor: actorOf(admin),
      actorName: admin.name,
      action: 'job.retried',
      discordId: before.subject.discordId,
      subscriptionId: before.subject.subscriptionId,
      email: before.subject.email,
      reason,
      details: {
        job: id,
        kind: found.kind,
        key: found.key,
        subject: before.subject.words,
        attempts: found.attempts,
        error: found.last_error,
        outcome: outcome.status,
        ...(outcome.status === 'superseded' ? { supersededBy: outcome.by } : {}),
      },
    });
    return outcome;
  });
}

/** What a retry came to, in words for the admin. */
export function retryWords(outcome: RetryOutcome): Flash {
  const what = `job ${outcome.job.id} (${outcome.job.kindName.toLowerCase()}, ${outcome.job.subject.words})`;
  if (outcome.status === 'queued') return { kind: 'queued', text: `${what} runs again now.` };
  return { kind: 'applied', text: `${what} was closed: job ${outcome.by} was already waiting to do the same work.` };
}

export interface RetryAllOutcome {
  queued: number[];
  superseded: number[];
  /** Dead jobs left for a further "retry all" (beyond RETRY_ALL_MAX). */
  remaining: number;
}

/** Every dead job (up to RETRY_ALL_MAX) back to pending, with one audit row listing them, in one transaction. */
export async function retryAllJobs(services: RetryServices, admin: AdminIdentity, reason: string): Promise<RetryAllOutcome> {
  return services.commits.run(() => {
    const dead = services.jobs.dead(RETRY_ALL_MAX);
    const outcome: RetryAllOutcome = { queued: [], superseded: [], remaining: 0 };
    if (dead.length === 0) return outcome;
    const kinds: Record<string, number> = {};
    for (const job of dead) {
      const revival = services.jobs.revive(job.id);
      if (revival.status === 'queued') outcome.queued.push(job.id);
      else if (revival.status === 'superseded') outcome.superseded.push(job.id);
      else continue;
      kinds[job.kind] = (kinds[job.kind] ?? 0) + 1;
    }
    outcome.remaining = services.jobs.counts().dead;
    services.audit.record({
      actor: actorOf(admin),
      actorName: admin.name,
      action: 'job.retried_all',
      reason,
      details: {
        count: outcome.queued.length + outcome.superseded.length,
        ids: [...outcome.queued, ...outcome.superseded],
        kinds,
        superseded: outcome.superseded,
        remaining: outcome.remaining,
      },
    });
    return outcome;
  });
}

export function retryAllWords(outcome: RetryAllOutcome): Flash {
  const { queued, superseded, remaining } = outcome;
  if (queued.length + superseded.length === 0) return { kind: 'info', text: 'There were no failed jobs to retry. Nothing was changed.' };
  const parts = [`${queued.length} ${queued.length === 1 ? 'job runs' : 'jobs run'} again now${queued.length > 0 ? ` (${queued.join(', ')})` : ''}`];
  if (superseded.length > 0) parts.push(`${superseded.length} closed because the same work was already waiting (${superseded.join(', ')})`);
  if (remaining > 0) parts.push(`${remaining} more failed jobs are left: retry all again`);
  return { kind: 'queued', text: `${parts.join('; ')}.` };
}

function delivery(row: WebhookEventRow): Delivery {
  let errors: string[] = [];
  try {
    const parsed: unknown = row.errors ? JSON.parse(row.errors) : [];
    errors = Array.isArray(parsed) ? parsed.map(String) : [String(parsed)];
  } catch {
    errors = row.errors ? [row.errors] : [];
  }
  let payload = row.payload;
  try {
    payload = JSON.stringify(JSON.parse(row.payload), null, 2);
  } catch {
    // Shown as received.
  }
  return {
    id: row.id,
    receivedAt: row.received_at,
    scheme: row.scheme,
    type: row.type,
    subscriptionId: row.subscription_id,
    errors,
    payload,
    removedAt: row.pruned_at,
  };
}

/**
 * Signed deliveries that were not applied, newest first: invalid ones (the payload is wrong in itself) and refused
 * ones (the configuration does not know what they name; fixing roles.json lets the sender's retry through).
 */
export function listInvalidDeliveries(services: Pick<Services, 'webhookEvents'>, limit = FAILED_PAGE_SIZE): { invalid: Deliveries; refused: Deliveries } {
  const { webhookEvents } = services;
  const list = (outcome: 'invalid' | 'refused'): Deliveries => ({
    rows: webhookEvents.recent(limit, outcome).map(delivery),
    total: webhookEvents.countSince(outcome, new Date(0)),
  });
  return { invalid: list('invalid'), refused: list('refused') };
}
