/**
 * The periodic sweep: every member of the server, a page at a time, is compared with the desired state, and a
 * reconcile is queued for each difference. Progress is checkpointed after each page, so a sweep that has to wait
 * for Discord's rate limits resumes where it stopped instead of starting over; only the differences found so far
 * are kept, never the member list. When the sweep would remove more roles than SWEEP_MAX_REMOVALS it changes
 * nothing and reports instead: that many removals at once is more likely a mistake (a wrong roles.json, a lost
 * database) than a wave of cancellations.
 */
import type { AuditLog } from '../audit/log.js';
import { managedRoles, type Config } from '../config.js';
import { MEMBER_PAGE, type DiscordApi, type GuildMember } from '../discord/api.js';
import type { JobQueue } from '../jobs/queue.js';
import type { JobContext } from '../jobs/worker.js';
import type { Logger } from '../log.js';
import type { SubscriptionStore } from '../subscriptions/store.js';
import type { Db } from '../db/open.js';
import type { GrantStore } from './grants.js';
import { RECONCILE_JOB } from './jobs.js';
import { desiredFor, type ReconcileDeps } from './reconcile.js';
import { isEmptyPlan, planRoles, type RolePlan } from './plan.js';

export interface SweepDeps {
  config: Pick<Config, 'tiers' | 'sweepMaxRemovals'>;
  api: DiscordApi;
  subscriptions: SubscriptionStore;
  grants: GrantStore;
  jobs: JobQueue;
  audit: AuditLog;
  log: Logger;
  db: Db;
}

/** Where a sweep is: the last user ID read, how many members were read, and the differences found. */
export interface SweepProgress {
  after?: string;
  checked?: number;
  work?: { discordId: string; add: number; remove: number }[];
}

/** One page of the member list: the members whose roles Arbiter has a say in, each with its plan. */
export interface PlannedPage {
  members: { member: GuildMember; plan: RolePlan }[];
  /** The last user ID read, where the next page starts. */
  after: string;
  /** Whether another page follows. */
  more: boolean;
}

/**
 * Reads the member list a page at a time from `after` and plans every member who should hold a managed role or
 * holds one. The next page is read only when the caller asks for it, so it can save its progress in between.
 */
export async function* plannedPages(
  deps: Pick<ReconcileDeps, 'config' | 'api' | 'subscriptions' | 'grants'>,
  after = '0',
  pageSize = MEMBER_PAGE,
): AsyncGenerator<PlannedPage> {
  const managed = managedRoles(deps.config);
  for (;;) {
    const page = await deps.api.listMembers(after, pageSize);
    const members: PlannedPage['members'] = [];
    for (const member of page) {
      const desired = desiredFor(deps, member.userId);
      if (desired.size === 0 && !member.roles.some((r) => managed.has(r))) continue;
      members.push({ member, plan: planRoles(desired, new Set(member.roles), managed) });
    }
    const more = page.length >= pageSize;
    if (more) after = page[page.length - 1]!.userId;
    yield { members, after, more };
    if (!more) return;
  }
}

export async function sweep(deps: SweepDeps, progress: SweepProgress, context: Pick<JobContext, 'checkpoint'>, pageSize = MEMBER_PAGE): Promise<void> {
  let checked = progress.checked ?? 0;
  const work = progress.work ?? [];
  for await (const page of plannedPages(deps, progress.after, pageSize)) {
    for (const { member, plan } of page.members) {
      checked++;
      if (!isEmptyPlan(plan)) work.push({ discordId: member.userId, add: plan.add.length, remove: plan.remove.length });
    }
    if (page.more) context.checkpoint({ after: page.after, checked, work } satisfies SweepProgress);
  }

  const summary = {
    checked,
    changes: work.length,
    additions: work.reduce((n, w) => n + w.add, 0),
    removals: work.reduce((n, w) => n + w.remove, 0),
  };
  if (summary.removals > deps.config.sweepMaxRemovals) {
    deps.audit.record({
      actor: 'system',
      action: 'sweep.refused',
      reason: `the sweep would remove ${summary.removals} roles, more than SWEEP_MAX_REMOVALS (${deps.config.sweepMaxRemovals}); nothing was changed`,
      details: { ...summary, members: work.slice(0, 50).map((w) => w.discordId) },
    });
    deps.log.error({ removals: summary.removals, cap: deps.config.sweepMaxRemovals }, 'sweep refused: too many removals; check config/roles.json and the database');
    return;
  }
  deps.db.transaction(() => {
    for (const w of work) deps.jobs.enqueue(RECONCILE_JOB, w.discordId, { discordId: w.discordId, cause: 'periodic check' });
    deps.audit.record({ actor: 'system', action: 'sweep.completed', details: summary });
  })();
}
