/**
 * What became of the job an admin's action queued, told in words. The action waits a few seconds for the worker:
 * usually Discord or the mail server answers at once and the admin reads what changed; anything slower is reported
 * honestly as queued, and a failure in the error's own words.
 */
import type { AuditLog } from '../audit/log.js';
import type { Job, JobQueue } from '../jobs/queue.js';

export interface Outcome {
  kind: 'applied' | 'queued' | 'failed';
  text: string;
}

export type JobResult =
  | { state: 'done' }
  /** Marked done because a newer job for the same subject was queued meanwhile: that one will do the work. */
  | { state: 'superseded' }
  | { state: 'dead'; error: string }
  /** Pending again after a failed attempt. */
  | { state: 'retrying'; error: string }
  | { state: 'waiting' };

export const OUTCOME_WAIT_MS = 4_000;
const POLL_MS = 25;

/** The worker stores `code: message`; the admin reads the message. */
function words(error: string | null): string {
  return (error ?? 'no reason was recorded').replace(/^[a-z_]+: /, '');
}

export function jobResult(job: Job | undefined): JobResult {
  if (!job) return { state: 'waiting' };
  switch (job.status) {
    case 'done':
      return job.last_error === null ? { state: 'done' } : { state: 'superseded' };
    case 'dead':
      return { state: 'dead', error: words(job.last_error) };
    case 'pending':
      return job.last_error !== null ? { state: 'retrying', error: words(job.last_error) } : { state: 'waiting' };
    case 'running':
      return { state: 'waiting' };
  }
}

/** Waits until the job has finished one way or the other, or `waitMs` has passed. A retry may still succeed in time. */
export async function waitForJob(jobs: Pick<JobQueue, 'get'>, id: number, waitMs = OUTCOME_WAIT_MS): Promise<JobResult> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const result = jobResult(jobs.get(id));
    const finished = result.state === 'done' || result.state === 'superseded' || result.state === 'dead';
    if (finished || Date.now() >= deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * `did`: what the action recorded, as a sentence; `effect`: what the finished job did, as a sentence; `remedy`:
 * what the admin can do once the cause of a failure is fixed.
 */
export function outcomeOf(result: JobResult, did: string, effect: () => string, remedy?: string): Outcome {
  switch (result.state) {
    case 'done':
      return { kind: 'applied', text: `${did} ${effect()}` };
    case 'superseded':
      return { kind: 'queued', text: `${did} A newer request for the same work took its place and will carry it out shortly.` };
    case 'dead':
      return { kind: 'failed', text: `${did} It could not be carried out: ${result.error}${/[.!?]$/.test(result.error) ? '' : '.'}${remedy ? ` ${remedy}` : ''}` };
    case 'retrying':
      return { kind: 'queued', text: `${did} The first try failed (${result.error}); it will retry automatically.` };
    case 'waiting':
      return { kind: 'queued', text: `${did} It is queued and will be carried out shortly.` };
  }
}

/**
 * What reconciling a member did, from the audit rows written after `since` (an audit row id): roles added and
 * removed, or that they are not in the server yet.
 */
export function roleChangesSince(audit: Pick<AuditLog, 'list'>, discordId: string, since: number, roleName: (id: string) => string): string {
  const rows = audit.list({ discordId, limit: 200 }).filter((r) => r.id > since).reverse();
  const names = (action: string) => rows.filter((r) => r.action === action && r.role_id).map((r) => roleName(r.role_id!));
  const added = names('role.added');
  const removed = names('role.removed');
  const parts = [added.length > 0 && `added ${added.join(', ')}`, removed.length > 0 && `removed ${removed.join(', ')}`].filter(Boolean);
  if (parts.length > 0) return `On Discord: ${parts.join('; ')}.`;
  if (rows.some((r) => r.action === 'roles.waiting_for_member')) return 'They are not in the Discord server: their roles follow when they join.';
  return 'Discord already matched: no role needed changing.';
}
