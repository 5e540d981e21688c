/**
 * One person as the panel shows them: subscriptions, Ghost member, every role with why, and their history. Discord
 * and Ghost are read live, each with a time limit: a slow service makes the page say so, never hang.
 */
import type { AuditRow } from '../audit/log.js';
import { ArbiterError } from '../errors.js';
import { noteHasDiscordId } from '../ghost/note.js';
import type { RoleGrant } from '../roles/grants.js';
import { explainRoles, type RoleLine } from '../roles/provenance.js';
import type { Services } from '../services.js';
import type { Subscription } from '../subscriptions/store.js';
import { grantableRoles } from './actions.js';
import { linkState, type SearchHit } from './search.js';

/** How long a page waits for Discord or Ghost. */
export const LIVE_READ_MS = 3_000;

export type DiscordRead =
  | { status: 'member'; roles: string[] }
  | { status: 'not in server' }
  | { status: 'unavailable'; reason: string }
  | { status: 'not configured' };

export type GhostRead =
  | { status: 'off' }
  | { status: 'no email' }
  | { status: 'found'; email: string; memberId: string; discordIdWritten: boolean }
  | { status: 'not found'; email: string }
  | { status: 'unavailable'; reason: string };

export interface MemberView {
  discordId: string;
  subscriptions: (Subscription & { link: SearchHit['link'] })[];
  roles: RoleLine[];
  discord: DiscordRead;
  ghost: GhostRead[];
  grants: { inForce: RoleGrant[]; history: RoleGrant[] };
  history: AuditRow[];
  /** Managed roles that exist in the server now, for the grant and block forms; null when Discord did not say. */
  grantable: { id: string; name: string }[] | null;
}

/** Resolves to the value, or throws in words once `ms` has passed; the late answer is dropped. */
async function withinTime<T>(promise: Promise<T>, ms: number, what: 'Discord' | 'Ghost'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const code = what === 'Discord' ? 'discord_unavailable' : 'ghost_unavailable';
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ArbiterError(code, `no answer from ${what} within ${ms / 1000} s`)), ms);
  });
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function readDiscord(services: Services, discordId: string): Promise<DiscordRead> {
  if (!services.discord) return { status: 'not configured' };
  try {
    const member = await withinTime(services.discord.api.getMember(discordId), LIVE_READ_MS, 'Discord');
    return member ? { status: 'member', roles: member.roles } : { status: 'not in server' };
  } catch (err) {
    return { status: 'unavailable', reason: (err as Error).message };
  }
}

async function readGhost(services: Services, email: string, discordId: string | null): Promise<GhostRead> {
  const ghost = services.ghost;
  if (!ghost || !services.config.ghost) return { status: 'off' };
  try {
    const found = await withinTime(ghost.findMemberByEmail(email), LIVE_READ_MS, 'Ghost');
    if (!found) return { status: 'not found', email };
    const written = discordId !== null && (services.config.ghost.field === 'custom'
      ? (found.custom_fields as Record<string, unknown> | undefined)?.discord_id === discordId
      : noteHasDiscordId(found.note ?? null, discordId));
    return { status: 'found', email, memberId: found.id, discordIdWritten: written };
  } catch (err) {
    return { status: 'unavailable', reason: (err as Error).message };
  }
}

/** The roles the grant and block forms offer; empty when Discord does not answer in time (the page says so). */
async function offeredRoles(services: Services): Promise<{ id: string; name: string }[] | null> {
  if (!services.discord) return [];
  try {
    return await withinTime(grantableRoles(services), LIVE_READ_MS, 'Discord');
  } catch {
    return null;
  }
}

/** The person behind a Discord ID; null when Arbiter knows nothing of them. */
export async function memberView(services: Services, discordId: string): Promise<MemberView | null> {
  const { subscriptions, grants, audit, config } = services;
  const subs = subscriptions.byDiscordId(discordId);
  const history = grants.history(discordId);
  const auditRows = audit.list({ discordId, limit: 100 });
  if (subs.length === 0 && history.length === 0 && auditRows.length === 0) return null;
  const emails = [...new Set(subs.map((s) => s.email))];
  const [discord, ghost, grantable] = await Promise.all([
    readDiscord(services, discordId),
    Promise.all(emails.map((email) => readGhost(services, email, discordId))),
    offeredRoles(services),
  ]);
  const inForce = grants.active(discordId);
  return {
    discordId,
    subscriptions: subs.map((s) => ({ ...s, link: linkState(services, s) })),
    roles: explainRoles({
      subscriptions: subs,
      grants: inForce,
      tiers: config.tiers,
      actual: discord.status === 'member' ? discord.roles : discord.status === 'not in server' ? [] : null,
      roleName: (id) => services.discord?.bot.roleName(id),
    }),
    discord,
    ghost: ghost.length > 0 ? ghost : [{ status: 'no email' }],
    grants: { inForce, history },
    history: auditRows,
    grantable,
  };
}

export interface SubscriptionView {
  subscription: Subscription & { link: SearchHit['link'] };
  ghost: GhostRead;
  history: AuditRow[];
  lastEvent: SearchHit['lastEvent'];
}

export async function subscriptionView(services: Services, subscriptionId: string): Promise<SubscriptionView | null> {
  const subscription = services.subscriptions.get(subscriptionId);
  if (!subscription) return null;
  const last = services.webhookEvents.latestFor(subscriptionId);
  return {
    subscription: { ...subscription, link: linkState(services, subscription) },
    ghost: await readGhost(services, subscription.email, subscription.discord_id),
    history: services.audit.list({ subscriptionId, limit: 100 }),
    lastEvent: last ? { type: last.type, at: last.received_at, outcome: last.outcome } : null,
  };
}
