/**
 * The periodic sweep: every member who holds a managed role or should hold one is compared with the desired state,
 * and a reconcile is queued for each difference. When the sweep would remove more roles than SWEEP_MAX_REMOVALS it
 * changes nothing and reports instead: that many removals at once is more likely a mistake (a wrong roles.json, a
 * lost database) than a wave of cancellations.
 */
import type { AuditLog } from '../audit/log.js';
import { managedRoles, type Config } from '../config.js';
import type { DiscordApi } from '../discord/api.js';
import type { JobQueue } from '../jobs/queue.js';
import type { Logger } from '../log.js';
import type { SubscriptionStore } from '../subscriptions/store.js';
import type { Db } from '../db/open.js';
import type { GrantStore } from './grants.js';
import { RECONCILE_JOB } from './jobs.js';
import { desiredFor } from './reconcile.js';
import { isEmptyPlan, planRoles } from './plan.js';

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

export async function sweep(deps: SweepDeps): Promise<void> {
  const managed = managedRoles(deps.config);
  const members = await deps.api.listMembers();
  const byId = new Map(members.map((m) => [m.userId, m.roles]));
  const subjects = new Set([...deps.subscriptions.linkedDiscordIds(), ...deps.grants.subjects()]);
  for (const m of members) if (m.roles.some((r) => managed.has(r))) subjects.add(m.userId);

  const work: { discordId: string; add: number; remove: number }[] = [];
  for (const discordId of subjects) {
    const actual = byId.get(discordId);
    if (!actual) continue;
    const plan = planRoles(desiredFor(deps, discordId), new Set(actual), managed);
    if (!isEmptyPlan(plan)) work.push({ discordId, add: plan.add.length, remove: plan.remove.length });
  }
  const summary = {
    checked: subjects.size,
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
