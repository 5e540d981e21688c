/**
 * The reconciler: what the database says a Discord user should hold, compared with what Discord says they hold,
 * and the difference applied. Every change carries an audit-log reason on Discord and a row in audit_logs.
 */
import type { AuditLog } from '../audit/log.js';
import { managedRoles, type Config } from '../config.js';
import type { DiscordApi } from '../discord/api.js';
import { ArbiterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SubscriptionStore } from '../subscriptions/store.js';
import type { GrantStore } from './grants.js';
import { desiredRoles, planRoles } from './plan.js';

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

export async function reconcile(deps: ReconcileDeps, payload: ReconcilePayload): Promise<void> {
  const { discordId } = payload;
  const cause = payload.cause ?? 'check';
  const member = await deps.api.getMember(discordId);
  const desired = desiredFor(deps, discordId);
  if (!member) {
    // Nothing to do until they join; guildMemberAdd asks for a reconcile then.
    if (desired.size > 0) {
      deps.audit.record({ actor: 'system', action: 'roles.waiting_for_member', discordId, details: { cause, roles: [...desired] } });
    }
    return;
  }
  const plan = planRoles(desired, new Set(member.roles), managedRoles(deps.config));
  const reason = `Arbiter: ${cause}`.slice(0, 400);
  const refused: { text: string; code: ArbiterError['code'] }[] = [];
  const apply = async (action: 'added' | 'removed', roleId: string) => {
    try {
      if (action === 'added') await deps.api.addRole(discordId, roleId, reason);
      else await deps.api.removeRole(discordId, roleId, reason);
    } catch (err) {
      deps.metrics.roleChange(action, 'failed');
      const e = err as ArbiterError;
      // Retryable trouble stops the run: the retry recomputes the plan, so what was done is not done twice.
      if (e.retryable) throw e;
      const name = deps.roleName?.(roleId);
      refused.push({ text: `${action === 'added' ? 'adding' : 'removing'} "${name ?? roleId}": ${e.message}`, code: e.code });
      deps.audit.record({ actor: 'system', action: `role.${action === 'added' ? 'add' : 'remove'}_failed`, discordId, roleId, reason: e.message, details: { cause, code: e.code } });
      return;
    }
    deps.metrics.roleChange(action, 'ok');
    deps.audit.record({ actor: 'system', action: `role.${action}`, discordId, roleId, reason: cause });
  };
  for (const roleId of plan.add) await apply('added', roleId);
  for (const roleId of plan.remove) await apply('removed', roleId);
  if (plan.add.length + plan.remove.length > 0) deps.log.info({ discordId, cause, add: plan.add, remove: plan.remove, refused: refused.length }, 'roles reconciled');
  if (refused.length > 0) throw new ArbiterError(refused[0]!.code, refused.map((r) => r.text).join('; '));
}
