/**
 * Why a person holds (or should hold, or must not hold) each role: every subscription tier, grant and block that
 * bears on it, in words, and how that compares with what Discord says they hold. Pure: the same rules as
 * desiredRoles, explained.
 */
import type { Subscription } from '../subscriptions/store.js';
import type { RoleGrant } from './grants.js';
import { desiredRoles } from './plan.js';

export interface RoleLine {
  roleId: string;
  name: string;
  managed: boolean;
  /** What the database says. */
  shouldHold: boolean;
  /** What Discord says; null when it could not be read. */
  holds: boolean | null;
  /** One sentence per thing that bears on this role; a role nobody manages says so. */
  reasons: string[];
  /** The difference the next reconcile closes, in words; null when there is none (or Discord was not read). */
  difference: string | null;
}

export interface ProvenanceInput {
  subscriptions: readonly Pick<Subscription, 'subscription_id' | 'tier' | 'status'>[];
  /** Grants and blocks in force. */
  grants: readonly RoleGrant[];
  tiers: Readonly<Record<string, readonly string[]>>;
  /** The member's roles on Discord, or null when unknown. */
  actual: readonly string[] | null;
  roleName(roleId: string): string | undefined;
}

const day = (iso: string) => iso.slice(0, 10);
const by = (g: RoleGrant) => g.created_by_name ?? g.created_by.replace(/^admin:/, '');
const until = (g: RoleGrant) => (g.expires_at ? ` until ${day(g.expires_at)}` : '');

export function explainRoles(input: ProvenanceInput): RoleLine[] {
  const managed = new Set(Object.values(input.tiers).flat());
  const desired = desiredRoles(input.subscriptions, input.grants, input.tiers);
  const actual = input.actual ? new Set(input.actual) : null;
  const reasons = new Map<string, string[]>();
  const add = (roleId: string, text: string) => reasons.set(roleId, [...(reasons.get(roleId) ?? []), text]);

  for (const s of input.subscriptions) {
    for (const roleId of input.tiers[s.tier] ?? []) {
      add(roleId, s.status === 'active'
        ? `tier ${s.tier} of subscription ${s.subscription_id}`
        : `tier ${s.tier} of subscription ${s.subscription_id}, which is ${s.status}: gives nothing`);
    }
  }
  for (const g of input.grants) {
    if (g.kind === 'grant' && g.role_id) add(g.role_id, `granted by ${by(g)}${until(g)}: ${g.reason}`);
  }
  for (const g of input.grants) {
    if (g.kind !== 'block') continue;
    const text = `blocked by ${by(g)}${until(g)}: ${g.reason}`;
    if (g.role_id) add(g.role_id, text);
    else for (const roleId of managed) add(roleId, `${text} (all managed roles)`);
  }
  for (const roleId of actual ?? []) {
    if (!managed.has(roleId)) add(roleId, 'not managed by Arbiter');
    else if (!reasons.has(roleId)) add(roleId, 'no subscription or grant gives it');
  }

  const lines: RoleLine[] = [];
  for (const [roleId, texts] of reasons) {
    const isManaged = managed.has(roleId);
    const shouldHold = desired.has(roleId) && isManaged;
    const holds = actual ? actual.has(roleId) : null;
    let difference: string | null = null;
    if (isManaged && holds === false && shouldHold) difference = 'missing on Discord: the next reconcile adds it';
    if (isManaged && holds === true && !shouldHold) difference = 'held on Discord but not due: the next reconcile removes it';
    lines.push({ roleId, name: input.roleName(roleId) ?? roleId, managed: isManaged, shouldHold, holds, reasons: texts, difference });
  }
  // Managed roles first, then by name.
  return lines.sort((a, b) => Number(b.managed) - Number(a.managed) || a.name.localeCompare(b.name));
}
