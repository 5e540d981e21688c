/**
 * Desired state and the plan that gets there, as pure functions: no I/O, so every rule is tested directly.
 */
import type { Subscription } from '../subscriptions/store.js';
import type { RoleGrant } from './grants.js';

export interface RolePlan {
  add: string[];
  remove: string[];
}

/** Roles of the tiers of active subscriptions, plus manual grants, minus what blocks withhold. */
export function desiredRoles(
  subscriptions: readonly Pick<Subscription, 'tier' | 'status'>[],
  grants: readonly Pick<RoleGrant, 'kind' | 'role_id'>[],
  tiers: Readonly<Record<string, readonly string[]>>,
): Set<string> {
  const desired = new Set<string>();
  for (const s of subscriptions) if (s.status === 'active') for (const role of tiers[s.tier] ?? []) desired.add(role);
  for (const g of grants) if (g.kind === 'grant' && g.role_id) desired.add(g.role_id);
  for (const g of grants) {
    if (g.kind !== 'block') continue;
    if (g.role_id === null) desired.clear();
    else desired.delete(g.role_id);
  }
  return desired;
}

/** Add what is desired and missing; remove only managed roles that are not desired. Other roles are never touched. */
export function planRoles(desired: ReadonlySet<string>, actual: ReadonlySet<string>, managed: ReadonlySet<string>): RolePlan {
  return {
    add: [...desired].filter((r) => managed.has(r) && !actual.has(r)).sort(),
    remove: [...actual].filter((r) => managed.has(r) && !desired.has(r)).sort(),
  };
}

export function isEmptyPlan(plan: RolePlan): boolean {
  return plan.add.length === 0 && plan.remove.length === 0;
}
