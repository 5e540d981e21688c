/**
 * What admins do to members and subscriptions. Each action checks everything first (the input, the subject, a role
 * against roles.json and the live server) and refuses with words, changing nothing; then it writes its change, one
 * audit row and the jobs that carry it out in one transaction, and waits briefly to tell how the job went. Nothing
 * here knows about HTTP: the panel's routes and any other door call these same functions.
 */
import { z } from 'zod';
import { managedRoles } from '../config.js';
import { ArbiterError, isArbiterError } from '../errors.js';
import { GHOST_SYNC_JOB } from '../ghost/sync.js';
import { RETRY_BUDGET_MS } from '../jobs/queue.js';
import { LINK_EMAIL_JOB } from '../linking/link-email.js';
import type { RoleGrant } from '../roles/grants.js';
import { GRANT_END_JOB, RECONCILE_JOB } from '../roles/jobs.js';
import type { Services } from '../services.js';
import type { Subscription } from '../subscriptions/store.js';
import type { Acting } from './access.js';
import { DiscordId, readTime, Reason, SubscriptionId } from './input.js';
import { outcomeOf, roleChangesSince, waitForJob, type JobResult, type Outcome } from './outcome.js';

export type ActionServices = Pick<Services, 'config' | 'commits' | 'subscriptions' | 'grants' | 'jobs' | 'audit' | 'clock' | 'discord'>;

const RoleId = z.string({ error: 'Choose a role.' }).trim().min(1, 'Choose a role.').max(100, 'That is not a role ID.');
const GrantId = z.string().regex(/^\d{1,15}$/, 'The address does not name a grant or block number.').transform(Number);

const EXPIRY_WORDS = 'The end must be a date as YYYY-MM-DD, or a date and time as YYYY-MM-DDTHH:MM, in UTC.';
/** A date (00:00 UTC that day) or a date and time, UTC unless an offset is given; empty means no end. */
const Expiry = z
  .string()
  .trim()
  .max(40, EXPIRY_WORDS)
  .optional()
  .transform((value, ctx) => {
    if (!value) return undefined;
    const time = readTime(value);
    if ('problem' in time) {
      ctx.addIssue({ code: 'custom', message: EXPIRY_WORDS });
      return z.NEVER;
    }
    return new Date(time.start);
  });

export const GrantInput = z.object({ discordId: DiscordId, roleId: RoleId, expiresAt: Expiry, reason: Reason });
export const BlockInput = GrantInput;
export const RevokeInput = z.object({ discordId: DiscordId, grantId: GrantId, reason: Reason });
export const MemberInput = z.object({ discordId: DiscordId, reason: Reason });
export const SubscriptionInput = z.object({ subscriptionId: SubscriptionId, reason: Reason });

export type GrantInput = z.output<typeof GrantInput>;
export type BlockInput = GrantInput;
export type RevokeInput = z.output<typeof RevokeInput>;
export type MemberInput = z.output<typeof MemberInput>;
export type SubscriptionInput = z.output<typeof SubscriptionInput>;

const nothingChanged = 'Nothing was changed.';

function discordOf(services: ActionServices): NonNullable<Services['discord']> {
  if (!services.discord) throw new ArbiterError('discord_unavailable', `Discord is not configured (the DISCORD_* settings), so roles cannot be changed. ${nothingChanged}`, { status: 503 });
  return services.discord;
}

function roleNamer(services: ActionServices): (roleId: string) => string {
  return (roleId) => services.discord?.bot.roleName(roleId) ?? roleId;
}

/** Asks Discord, and turns any trouble reaching it into a refusal that changed nothing. */
async function askDiscord<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const why = isArbiterError(err) ? err.message : String(err);
    throw new ArbiterError('discord_unavailable', `Could not ask Discord ${what} (${why}). ${nothingChanged} Try again in a moment.`, { status: 503, cause: err });
  }
}

/** Managed roles that exist in the server now, highest first: the roles a grant or block may name. */
export async function grantableRoles(services: ActionServices): Promise<{ id: string; name: string }[]> {
  const managed = managedRoles(services.config);
  const roles = await askDiscord('for the server roles', () => discordOf(services).api.guildRoles());
  return roles
    .filter((r) => managed.has(r.id))
    .sort((a, b) => b.position - a.position)
    .map(({ id, name }) => ({ id, name }));
}

function requireManaged(services: ActionServices, roleId: string): void {
  if (!managedRoles(services.config).has(roleId)) {
    throw new ArbiterError('bad_request', `Role ${roleId} is not one of the roles Arbiter manages (the tiers in roles.json). ${nothingChanged}`, { status: 400 });
  }
}

/** The server has the role right now (roles.json may name one deleted since). Returns its name. */
async function requireOnServer(services: ActionServices, roleId: string): Promise<string> {
  const roles = await askDiscord('whether the role exists', () => discordOf(services).api.guildRoles());
  const role = roles.find((r) => r.id === roleId);
  if (!role) {
    throw new ArbiterError('discord_unknown_role', `Role ${roleId} is in roles.json but does not exist in the Discord server (deleted, or a wrong ID in roles.json). ${nothingChanged}`, { status: 400 });
  }
  return role.name;
}

export function knownToArbiter(services: ActionServices, discordId: string): boolean {
  return services.subscriptions.byDiscordId(discordId).length > 0 || services.grants.history(discordId).length > 0;
}

function requireKnown(services: ActionServices, discordId: string): void {
  if (!knownToArbiter(services, discordId)) {
    throw new ArbiterError('not_found', `Arbiter knows no member with Discord ID ${discordId}: no subscription is linked to it and it never had a grant or block.`, { status: 404 });
  }
}

/** A grant or block may also name someone Arbiter has never seen, as long as they are in the server. */
async function requireKnownOrMember(services: ActionServices, discordId: string): Promise<void> {
  if (knownToArbiter(services, discordId)) return;
  const member = await askDiscord('whether they are in the server', () => discordOf(services).api.getMember(discordId));
  if (!member) {
    throw new ArbiterError('not_found', `Discord ID ${discordId} is not in the Discord server, and Arbiter knows no subscription or grant for it. ${nothingChanged}`, { status: 404 });
  }
}

function requireFuture(services: ActionServices, expiresAt: Date | undefined): void {
  if (expiresAt && expiresAt.getTime() <= services.clock.now().getTime()) {
    throw new ArbiterError('bad_request', `The end (${utc(expiresAt)}) must be in the future. ${nothingChanged}`, { status: 400 });
  }
}

function utc(date: Date | string): string {
  return `${new Date(date).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const RECONCILE_REMEDY = 'Once the cause is fixed, use "Reconcile now".';

/** What a reconcile of this member did, for the outcome. */
function rolesOutcome(services: ActionServices, result: JobResult, did: string, discordId: string, mark: number): Outcome {
  return outcomeOf(result, did, () => roleChangesSince(services.audit, discordId, mark, roleNamer(services)), RECONCILE_REMEDY);
}

function describeGrant(services: ActionServices, g: Pick<RoleGrant, 'kind' | 'role_id'>): string {
  if (g.kind === 'block') return g.role_id === null ? 'the block of all managed roles' : `the block of ${roleNamer(services)(g.role_id)}`;
  return `the grant of ${roleNamer(services)(g.role_id!)}`;
}

/** A grant or block in the database, the reconcile that applies it now, and one more when it ends. */
async function addGrant(services: ActionServices, by: Acting, kind: RoleGrant['kind'], input: GrantInput): Promise<Outcome & { grantId: number }> {
  const { discordId, expiresAt, reason } = input;
  requireFuture(services, expiresAt);
  const roleId = kind === 'block' && input.roleId === 'all' ? null : input.roleId;
  discordOf(services);
  if (roleId !== null) requireManaged(services, roleId);
  await requireKnownOrMember(services, discordId);
  const name = roleId === null ? 'all managed roles' : await requireOnServer(services, roleId);
  const { jobs, grants, audit, clock } = services;
  const { grantId, jobId, mark } = await services.commits.run(() => {
    const grantId = grants.add({
      discord_id: discordId,
      kind,
      role_id: roleId,
      reason,
      created_by: by.actor,
      created_by_name: by.name,
      expires_at: expiresAt?.toISOString() ?? null,
    });
    const mark = audit.record({
      actor: by.actor,
      actorName: by.name,
      action: `${kind}.added`,
      discordId,
      roleId,
      reason,
      details: { [kind]: grantId, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) },
    });
    const jobId = jobs.enqueue(RECONCILE_JOB, discordId, { discordId, cause: `${kind} ${grantId} added by ${by.name}` });
    if (expiresAt) {
      // A job of its own: merged into the reconcile above, it would run now and never at the end.
      const untilEnd = expiresAt.getTime() - clock.now().getTime();
      jobs.enqueue(GRANT_END_JOB, String(grantId), { discordId, cause: `${kind} ${grantId} ended` }, { runAt: expiresAt, budgetMs: untilEnd + RETRY_BUDGET_MS });
    }
    return { grantId, jobId, mark };
  });
  const verb = kind === 'grant' ? `Granted ${name} to ${discordId}` : `Blocked ${name} for ${discordId}`;
  const did = `${verb} (${kind} ${grantId}, ${expiresAt ? `until ${utc(expiresAt)}` : 'until revoked'}).`;
  return { ...rolesOutcome(services, await waitForJob(jobs, jobId), did, discordId, mark), grantId };
}

export function grantRole(services: ActionServices, by: Acting, input: GrantInput): Promise<Outcome & { grantId: number }> {
  return addGrant(services, by, 'grant', input);
}

/** `roleId` 'all' withholds every managed role. */
export function block(services: ActionServices, by: Acting, input: BlockInput): Promise<Outcome & { grantId: number }> {
  return addGrant(services, by, 'block', input);
}

/** Ends a grant or a block in force. */
export async function revokeGrant(services: ActionServices, by: Acting, input: RevokeInput): Promise<Outcome> {
  const { discordId, grantId, reason } = input;
  const { grants, audit, jobs, clock } = services;
  const { grant, jobId, mark } = await services.commits.run(() => {
    const grant = grants.get(grantId);
    if (!grant || grant.discord_id !== discordId) {
      throw new ArbiterError('not_found', `There is no grant or block ${grantId} for Discord ID ${discordId}.`, { status: 404 });
    }
    const what = describeGrant(services, grant);
    if (grant.revoked_at) {
      throw new ArbiterError('bad_request', `${capital(what)} (${grantId}) was already revoked at ${utc(grant.revoked_at)}. ${nothingChanged}`, { status: 409 });
    }
    if (grant.expires_at && grant.expires_at <= clock.now().toISOString()) {
      throw new ArbiterError('bad_request', `${capital(what)} (${grantId}) already ended at ${utc(grant.expires_at)}. ${nothingChanged}`, { status: 409 });
    }
    grants.revoke(grantId, { actor: by.actor, name: by.name }, reason);
    const mark = audit.record({ actor: by.actor, actorName: by.name, action: `${grant.kind}.revoked`, discordId, roleId: grant.role_id, reason, details: { [grant.kind]: grantId } });
    const jobId = jobs.enqueue(RECONCILE_JOB, discordId, { discordId, cause: `${grant.kind} ${grantId} revoked by ${by.name}` });
    return { grant, jobId, mark };
  });
  const did = `Ended ${describeGrant(services, grant)} for ${discordId} (${grant.kind} ${grantId}).`;
  return rolesOutcome(services, await waitForJob(jobs, jobId), did, discordId, mark);
}

/** Compares what the member should hold with what Discord says, and fixes the difference. */
export async function reconcileNow(services: ActionServices, by: Acting, input: MemberInput): Promise<Outcome> {
  const { discordId, reason } = input;
  discordOf(services);
  const { audit, jobs } = services;
  const { jobId, mark } = await services.commits.run(() => {
    requireKnown(services, discordId);
    const mark = audit.record({ actor: by.actor, actorName: by.name, action: 'roles.reconcile_requested', discordId, reason });
    const jobId = jobs.enqueue(RECONCILE_JOB, discordId, { discordId, cause: `reconcile requested by ${by.name}` });
    return { jobId, mark };
  });
  return rolesOutcome(services, await waitForJob(jobs, jobId), `Checked the roles of ${discordId}.`, discordId, mark);
}

function subscriptionOf(services: ActionServices, subscriptionId: string): Subscription {
  const subscription = services.subscriptions.get(subscriptionId);
  if (!subscription) throw new ArbiterError('not_found', `There is no subscription ${subscriptionId}.`, { status: 404 });
  return subscription;
}

/** Emails a new link to an active subscription that is not linked yet; the new link revokes the ones before. */
export async function resendLink(services: ActionServices, by: Acting, input: SubscriptionInput): Promise<Outcome> {
  const { subscriptionId, reason } = input;
  const { audit, jobs } = services;
  const { subscription, jobId } = await services.commits.run(() => {
    const subscription = subscriptionOf(services, subscriptionId);
    if (subscription.status !== 'active') {
      throw new ArbiterError('bad_request', `Subscription ${subscriptionId} is ${subscription.status}: only an active subscription is sent a link. ${nothingChanged}`, { status: 409 });
    }
    if (subscription.discord_id) {
      throw new ArbiterError('bad_request', `Subscription ${subscriptionId} is already linked to Discord ID ${subscription.discord_id}. To link another account, unlink it first. ${nothingChanged}`, { status: 409 });
    }
    audit.record({ actor: by.actor, actorName: by.name, action: 'link.resend_requested', email: subscription.email, subscriptionId, reason });
    const jobId = jobs.enqueue(LINK_EMAIL_JOB, subscriptionId, { subscriptionId });
    return { subscription, jobId };
  });
  const result = await waitForJob(jobs, jobId);
  if (result.state === 'done') {
    return { kind: 'applied', text: `Sent a new link to ${subscription.email}. Links sent before no longer work.` };
  }
  return outcomeOf(result, `A new link for ${subscription.email} was asked for.`, () => '');
}

/**
 * The subscription forgets its Discord account and waits for a link again. The account's tier roles go (unless
 * something else still gives them), Ghost forgets the ID, and no email is sent: an admin sends one when it is time.
 */
export async function unlink(services: ActionServices, by: Acting, input: SubscriptionInput): Promise<Outcome> {
  const { subscriptionId, reason } = input;
  const { audit, jobs, clock, config, subscriptions } = services;
  const { discordId, jobId, mark } = await services.commits.run(() => {
    const subscription = subscriptionOf(services, subscriptionId);
    const discordId = subscription.discord_id;
    if (!discordId) {
      throw new ArbiterError('bad_request', `Subscription ${subscriptionId} is not linked to a Discord account. ${nothingChanged}`, { status: 409 });
    }
    subscriptions.unlink(subscriptionId, clock.now().toISOString());
    const mark = audit.record({ actor: by.actor, actorName: by.name, action: 'link.removed', email: subscription.email, discordId, subscriptionId, reason });
    const jobId = jobs.enqueue(RECONCILE_JOB, discordId, { discordId, cause: `subscription ${subscriptionId} unlinked by ${by.name}` });
    if (config.ghost) jobs.enqueue(GHOST_SYNC_JOB, subscriptionId, { subscriptionId, unlinked: discordId });
    return { discordId, jobId, mark };
  });
  const did = `Unlinked subscription ${subscriptionId} from Discord ID ${discordId}.`;
  const next = 'No email was sent: use "Resend link" to send a new link.';
  const outcome = rolesOutcome(services, await waitForJob(jobs, jobId), did, discordId, mark);
  return { ...outcome, text: `${outcome.text} ${next}` };
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
