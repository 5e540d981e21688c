/**
 * The reconciler: what the database says a Discord user should hold, compared with what Discord says they hold,
 * and the difference applied. Every change carries an audit-log reason on Discord and a row in audit_logs.
 */
import type { AuditLog } from '../audit/log.js';
import { managedRoles, type Config } from '../config.js';
import type { DiscordApi, GuildMember } from '../discord/api.js';
import { ArbiterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SubscriptionStore } from '../subscriptions/store.js';
import type { GrantStore } from './grants.js';
import { desiredRoles, planRoles, type RolePlan } from './plan.js';

export interface ReconcileDeps {
  config: Pick<Config, 'tiers'>;
  api: DiscordApi;
  subscriptions: SubscriptionStore;
  grants: GrantStore;
  audit: AuditLog;
  log: Logger;
  /** Counts each change made or refused (for /metrics). */
  metrics: { roleChange(action: 'added' | 'removed', result: 'ok' | 'failed'): void };
  /** A role's name for messages, when known. */
  roleName?: (roleId: string) => string | undefined;
}

export interface ReconcilePayload {
  discordId: string;
  cause?: string;
}

export function desiredFor(deps: Pick<ReconcileDeps, 'config' | 'subscriptions' | 'grants'>, discordId: string): Set<string> {
  return desiredRoles(deps.subscriptions.byDiscordId(discordId), deps.grants.active(discordId), deps.config.tiers);
}

/** A member's roles as Discord has them (null: not in the server) and what would make them right. */
export interface MemberPlan {
  discordId: string;
  member: GuildMember | null;
  desired: Set<string>;
  /** Empty when they are not in the server. */
  plan: RolePlan;
}

/** What applying a plan did; a change Discord refused for good is in `refused` and was not retried. */
export interface Applied {
  added: string[];
  removed: string[];
  refused: { roleId: string; text: string; code: ArbiterError['code'] }[];
}

/** Reads the member from Discord and plans the difference; changes nothing. */
export async function planFor(deps: Pick<ReconcileDeps, 'config' | 'api' | 'subscriptions' | 'grants'>, discordId: string): Promise<MemberPlan> {
  const member = await deps.api.getMember(discordId);
  const desired = desiredFor(deps, discordId);
  const plan = member ? planRoles(desired, new Set(member.roles), managedRoles(deps.config)) : { add: [], remove: [] };
  return { discordId, member, desired, plan };
}

/** Carries out a plan. Retryable trouble is thrown: the retry plans again, so what was done is not done twice. */
export async function applyPlan(deps: ReconcileDeps, planned: MemberPlan, cause: string): Promise<Applied> {
  const { discordId, member, desired, plan } = planned;
  const applied: Applied = { added: [], removed: [], refused: [] };
  if (!member) {
    // Nothing to do until they join; guildMemberAdd asks for a reconcile then.
    if (desired.size > 0) {
      deps.audit.record({ actor: 'system', action: 'roles.waiting_for_member', discordId, details: { cause, roles: [...desired] } });
    }
    return applied;
  }
  const reason = `Arbiter: ${cause}`.slice(0, 400);
  const apply = async (action: 'added' | 'removed', roleId: string) => {
    try {
      if (action === 'added') await deps.api.addRole(discordId, roleId, reason);
      else await deps.api.removeRole(discordId, roleId, reason);
    } catch (err) {
      deps.metrics.roleChange(action, 'failed');
      const e = err as ArbiterError;
      if (e.retryable) throw e;
      const name = deps.roleName?.(roleId);
      applied.refused.push({ roleId, text: `${action === 'added' ? 'adding' : 'removing'} "${name ?? roleId}": ${e.message}`, code: e.code });
      deps.audit.record({ actor: 'system', action: `role.${action === 'added' ? 'add' : 'remove'}_failed`, discordId, roleId, reason: e.message, details: { cause, code: e.code } });
      return;
    }
    deps.metrics.roleChange(action, 'ok');
    applied[action].push(roleId);
    deps.audit.record({ actor: 'system', action: `role.${action}`, discordId, roleId, reason: cause });
  };
  for (const roleId of plan.add) await apply('added', roleId);
  for (const roleId of plan.remove) await apply('removed', roleId);
  if (plan.add.length + plan.remove.length > 0) deps.log.info({ discordId, cause, add: plan.add, remove: plan.remove, refused: applied.refused.length }, 'roles reconciled');
  return applied;
}

export async function reconcile(deps: ReconcileDeps, payload: ReconcilePayload): Promise<void> {
  const { refused } = await applyPlan(deps, await planFor(deps, payload.discordId), payload.cause ?? 'check');
  if (refused.length > 0) throw new ArbiterError(refused[0]!.code, refused.map((r) => r.text).join('; '));
}
