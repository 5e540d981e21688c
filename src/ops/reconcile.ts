/**
 * `arbiter reconcile`: the plan for one member or for everyone, from the same planning as the server's reconciler,
 * and, unless it is a dry run, the plan carried out through that reconciler. Calls Discord's REST API directly.
 */
import type { Acting } from '../admin/access.js';
import { ArbiterError, isArbiterError } from '../errors.js';
import { applyPlan, desiredFor, planFor, type ReconcileDeps } from '../roles/reconcile.js';
import { isEmptyPlan } from '../roles/plan.js';
import { plannedPages } from '../roles/sweep.js';
import type { Services } from '../services.js';

export type ReconcileServices = Pick<Services, 'config' | 'discord' | 'subscriptions' | 'grants' | 'audit' | 'log' | 'metrics'>;
export type ReconcileTarget = { discordId: string } | { all: true };

export interface PersonChange {
  discordId: string;
  emails: string[];
  /** Role IDs. */
  add: string[];
  remove: string[];
}

export interface ReconcilePlan {
  target: ReconcileTarget;
  /** How many people's roles were compared. */
  checked: number;
  /** Members of the server whose roles would change. */
  changes: PersonChange[];
  /** People who should hold roles but are not in the server: their roles follow when they join. */
  waiting: { discordId: string; emails: string[]; roles: string[] }[];
  additions: number;
  removals: number;
  /** SWEEP_MAX_REMOVALS: more removals than this at once need --force. */
  maxRemovals: number;
  /** Role ID -> its name on the server now. */
  roleNames: Map<string, string>;
}

export interface PersonResult {
  discordId: string;
  emails: string[];
  added: string[];
  removed: string[];
  /** Each change refused, in words. */
  refused: string[];
}

export interface ReconcileReport {
  checked: number;
  results: PersonResult[];
  added: number;
  removed: number;
  refused: number;
  /** Why the run stopped before the end (Discord refused the token, a long rate limit), if it did. */
  stopped: string | null;
}

function deps(services: ReconcileServices, roleNames?: Map<string, string>): ReconcileDeps {
  if (!services.discord) {
    throw new ArbiterError('discord_unavailable', 'Discord is not configured (the DISCORD_* settings), so roles cannot be checked. Nothing was changed.');
  }
  const { config, subscriptions, grants, audit, log, metrics } = services;
  return { config, api: services.discord.api, subscriptions, grants, audit, log, metrics, roleName: (id) => roleNames?.get(id) };
}

function emailsOf(services: ReconcileServices, discordId: string): string[] {
  return [...new Set(services.subscriptions.byDiscordId(discordId).map((s) => s.email))];
}

function knownToArbiter(services: ReconcileServices, discordId: string): boolean {
  return services.subscriptions.byDiscordId(discordId).length > 0 || services.grants.history(discordId).length > 0;
}

/** Reads Discord and the database, and changes nothing. */
export async function planReconcile(services: ReconcileServices, target: ReconcileTarget): Promise<ReconcilePlan> {
  const d = deps(services);
  const roleNames = new Map((await d.api.guildRoles()).map((r) => [r.id, r.name]));
  const changes: PersonChange[] = [];
  const waiting: ReconcilePlan['waiting'] = [];
  let checked: number;
  if ('discordId' in target) {
    const { discordId, member, desired, plan } = await planFor(d, target.discordId);
    if (!member && desired.size === 0 && !knownToArbiter(services, discordId)) {
      throw new ArbiterError('not_found', `Discord ID ${discordId} is not in the Discord server, and Arbiter has no subscription or grant for it. Nothing was changed.`);
    }
    if (!member && desired.size > 0) waiting.push({ discordId, emails: emailsOf(services, discordId), roles: [...desired].sort() });
    if (!isEmptyPlan(plan)) changes.push({ discordId, emails: emailsOf(services, discordId), ...plan });
    checked = 1;
  } else {
    // Every member who holds a managed role or should hold one, from the member list as the sweep reads it.
    const seen = new Set<string>();
    for await (const page of plannedPages(d)) {
      for (const { member, plan } of page.members) {
        seen.add(member.userId);
        if (!isEmptyPlan(plan)) changes.push({ discordId: member.userId, emails: emailsOf(services, member.userId), ...plan });
      }
    }
    // Everyone the database knows: one who should hold roles and was not in the list is not in the server.
    const known = new Set([...services.subscriptions.linkedDiscordIds(), ...services.grants.subjects()]);
    for (const discordId of [...known].sort()) {
      if (seen.has(discordId)) continue;
      const desired = desiredFor(d, discordId);
      if (desired.size > 0) waiting.push({ discordId, emails: emailsOf(services, discordId), roles: [...desired].sort() });
    }
    checked = new Set([...seen, ...known]).size;
  }
  return {
    target,
    checked,
    changes,
    waiting,
    additions: changes.reduce((n, c) => n + c.add.length, 0),
    removals: changes.reduce((n, c) => n + c.remove.length, 0),
    maxRemovals: services.config.sweepMaxRemovals,
    roleNames,
  };
}

export function overRemovalCap(plan: ReconcilePlan): boolean {
  return plan.removals > plan.maxRemovals;
}

/**
 * Carries out a plan through the server's reconciler: each member is read again just before, so what changed
 * since the plan is taken into account. Records who asked; the reconciler records each role change.
 */
export async function applyReconcile(
  services: ReconcileServices,
  plan: ReconcilePlan,
  by: Acting,
  options: { reason: string; force: boolean },
): Promise<ReconcileReport> {
  const d = deps(services, plan.roleNames);
  if (overRemovalCap(plan) && !options.force) {
    throw new ArbiterError(
      'bad_request',
      `This would remove ${plan.removals} role${plan.removals === 1 ? '' : 's'}, more than SWEEP_MAX_REMOVALS (${plan.maxRemovals}) allows at once. Nothing was changed. ` +
        'So many removals at once are more often a mistake (a wrong roles.json, a lost database) than real: look at the plan with --dry-run, and run again with --force if it is right.',
    );
  }
  const single = 'discordId' in plan.target ? plan.target.discordId : null;
  services.audit.record({
    actor: by.actor,
    actorName: by.name,
    action: 'roles.reconcile_requested',
    discordId: single,
    reason: options.reason,
    ...(single ? {} : { details: { all: true, force: options.force, members: plan.checked, additions: plan.additions, removals: plan.removals } }),
  });
  const cause = `reconcile requested by ${by.name}`;
  const results: PersonResult[] = [];
  let stopped: string | null = null;
  for (const change of plan.changes) {
    const result: PersonResult = { discordId: change.discordId, emails: change.emails, added: [], removed: [], refused: [] };
    results.push(result);
    try {
      const applied = await applyPlan(d, await planFor(d, change.discordId), cause);
      result.added = applied.added;
      result.removed = applied.removed;
      result.refused = applied.refused.map((r) => r.text);
    } catch (err) {
      result.refused.push(isArbiterError(err) ? err.message : String(err));
      // The same wall for everyone after: stop rather than meet it once per member.
      if (isArbiterError(err) && err.pauseLane) {
        stopped = err.message;
        break;
      }
    }
  }
  return {
    checked: plan.checked,
    results,
    added: results.reduce((n, r) => n + r.added.length, 0),
    removed: results.reduce((n, r) => n + r.removed.length, 0),
    refused: results.reduce((n, r) => n + r.refused.length, 0),
    stopped,
  };
}
