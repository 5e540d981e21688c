/**
 * `arbiter resend-link <email>`: the panel's "Resend link" for every active subscription of that email that is not
 * linked yet. The email itself is sent by the running server's worker, which looks at the job queue.
 */
import { z } from 'zod';
import type { Acting } from '../admin/access.js';
import { resendLink, type ActionServices } from '../admin/actions.js';
import type { Outcome } from '../admin/outcome.js';
import { ArbiterError } from '../errors.js';
import type { Subscription } from '../subscriptions/store.js';

/** Trimmed and lowercased, as the webhook stores it. */
const Email = z.string().trim().max(254).toLowerCase().pipe(z.email());

export function parseEmail(raw: string): { email: string } | { problem: string } {
  const parsed = Email.safeParse(raw);
  return parsed.success ? { email: parsed.data } : { problem: `"${raw.trim()}" is not an email address.` };
}

export interface Resent {
  subscriptionId: string;
  outcome: Outcome;
}

function whyNot(s: Subscription): string {
  if (s.status !== 'active') return `${s.subscription_id} is ${s.status}`;
  return `${s.subscription_id} is already linked to Discord ID ${s.discord_id} (unlink it in the panel first to link another account)`;
}

export async function resendLinks(services: ActionServices, by: Acting, email: string, reason: string): Promise<Resent[]> {
  const all = services.subscriptions.byEmail(email);
  if (all.length === 0) throw new ArbiterError('not_found', `No subscription has the email ${email}. Nothing was changed.`);
  const due = all.filter((s) => s.status === 'active' && !s.discord_id);
  if (due.length === 0) {
    throw new ArbiterError('bad_request', `${email} has no active subscription waiting for a link: ${all.map(whyNot).join('; ')}. Nothing was changed.`);
  }
  const resent: Resent[] = [];
  for (const s of due) resent.push({ subscriptionId: s.subscription_id, outcome: await resendLink(services, by, { subscriptionId: s.subscription_id, reason }) });
  return resent;
}
