/**
 * The job that writes a subscriber's Discord ID onto their Ghost member (found by email): a `discord_id:` line in
 * the note plus a `discord` label, or the custom member field `discord_id` where the site has member custom fields.
 * After an unlink it takes that ID off again.
 */
import type { AuditLog } from '../audit/log.js';
import type { GhostConfig } from '../config.js';
import { ArbiterError } from '../errors.js';
import type { Subscription, SubscriptionStore } from '../subscriptions/store.js';
import type { GhostClient } from './client.js';
import { NOTE_MAX, noteHasDiscordId, noteWithDiscordId, noteWithoutDiscordId } from './note.js';

export const GHOST_SYNC_JOB = 'ghost_sync';
export const GHOST_LABEL = 'discord';

export interface GhostSyncDeps {
  config: GhostConfig;
  ghost: GhostClient;
  subscriptions: SubscriptionStore;
  audit: AuditLog;
}

export interface GhostSyncPayload {
  subscriptionId: string;
  /** The Discord ID the subscription was unlinked from: it comes off the member, unless linked again meanwhile. */
  unlinked?: string;
}

export function ghostSyncJob(deps: GhostSyncDeps) {
  return async (payload: unknown): Promise<void> => {
    const { subscriptionId, unlinked } = payload as GhostSyncPayload;
    const subscription = deps.subscriptions.get(subscriptionId);
    if (subscription && !subscription.discord_id && unlinked) return forget(deps, subscription, unlinked);
    if (!subscription?.discord_id) return;
    const { email, discord_id: discordId } = subscription;
    const notFound = () => void deps.audit.record({ actor: 'system', action: 'ghost.member_not_found', email, discordId, subscriptionId });
    const found = await deps.ghost.findMemberByEmail(email);
    if (!found) return notFound();
    if (deps.config.field === 'custom') {
      const saved = await deps.ghost.editMember(found.id, { custom_fields: { discord_id: discordId } });
      if (saved.custom_fields?.discord_id !== discordId) {
        throw new ArbiterError('ghost_rejected', 'Ghost did not keep the custom field discord_id: enable member custom fields in Ghost, or set CMS_DISCORD_FIELD=note');
      }
    } else {
      // The note and the labels are replaced whole, so they are computed from a copy read right before the edit.
      // Ghost checks updated_at for collisions on posts only, not on members, so this narrows the window in which
      // a change made in Ghost meanwhile would be lost; the API offers no way to close it.
      const member = await deps.ghost.readMember(found.id);
      if (!member) return notFound();
      const note = noteWithDiscordId(member.note, discordId);
      const labels = member.labels.map((l) => l.name);
      const hasLabel = labels.some((l) => l.toLowerCase() === GHOST_LABEL);
      if (note === (member.note ?? '') && hasLabel) return;
      if (note.length > NOTE_MAX) {
        throw new ArbiterError('ghost_rejected', `the member's note would be longer than Ghost's ${NOTE_MAX} characters; shorten it in Ghost`);
      }
      await deps.ghost.editMember(member.id, { note, labels: hasLabel ? labels : [...labels, GHOST_LABEL] });
    }
    deps.audit.record({ actor: 'system', action: 'ghost.updated', email, discordId, subscriptionId, details: { member: found.id, field: deps.config.field } });
  };
}

async function forget(deps: GhostSyncDeps, subscription: Subscription, discordId: string): Promise<void> {
  const { email, subscription_id: subscriptionId } = subscription;
  // Another subscription of the same address may still be linked to that account.
  if (deps.subscriptions.byEmail(email).some((s) => s.discord_id === discordId)) return;
  const member = await takeDiscordIdOff(deps, email, discordId);
  if (!member) return;
  deps.audit.record({ actor: 'system', action: 'ghost.updated', email, discordId, subscriptionId, details: { member, field: deps.config.field, removed: true } });
}

/**
 * Takes this Discord ID off the Ghost member with this email: the note's line and the `discord` label, or the custom
 * field. Returns the member's id when something was taken off; undefined when there is no such member or it does not
 * carry that ID.
 */
export async function takeDiscordIdOff(deps: Pick<GhostSyncDeps, 'config' | 'ghost'>, email: string, discordId: string): Promise<string | undefined> {
  const found = await deps.ghost.findMemberByEmail(email);
  const member = found && (await deps.ghost.readMember(found.id));
  if (!member) return undefined;
  if (deps.config.field === 'custom') {
    if (member.custom_fields?.discord_id !== discordId) return undefined;
    await deps.ghost.editMember(member.id, { custom_fields: { discord_id: null } });
  } else {
    if (!noteHasDiscordId(member.note, discordId)) return undefined;
    const note = noteWithoutDiscordId(member.note, discordId);
    const labels = member.labels.map((l) => l.name).filter((l) => l.toLowerCase() !== GHOST_LABEL);
    await deps.ghost.editMember(member.id, { note, labels });
  }
  return member.id;
}
