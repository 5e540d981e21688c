/** The pages of the link flow, rendered from views/pages. */
import type { Services } from '../services.js';
import type { Subscription } from '../subscriptions/store.js';
import { html, renderPage } from '../views.js';
import type { TokenStatus } from './tokens.js';

export interface LinkedSession {
  subscriptionId: string;
  /** busy: Discord kept answering "later" for as long as the sign-in could wait. */
  joined: 'joined' | 'already' | 'busy' | 'failed';
}

const PROBLEM_PAGES: Record<Exclude<TokenStatus, 'valid'>, { title: string; message: string }> = {
  expired: { title: 'This link has expired', message: 'Links work for a limited time. Ask for a new one below.' },
  used: { title: 'This link was already used', message: 'Each link works once. If your Discord account is not connected yet, ask for a new link below.' },
  revoked: { title: 'This link was replaced', message: 'A newer link was sent to you; only the newest one works. Use it, or ask for a new one below.' },
  inactive: { title: 'This link stopped working', message: 'It stopped working when your subscription was suspended or cancelled. If a newer link reached you since, use that one; otherwise ask for a new one below.' },
  unknown: { title: 'This link is not valid', message: 'Check that you copied the whole address from the email, or ask for a new link below.' },
};

export function messagePage(title: string, message: string): string {
  return renderPage('message', title, { message });
}

/** For a link whose subscription is suspended or cancelled. */
export function notActivePage(subscription: Pick<Subscription, 'tier' | 'status'>): string {
  return messagePage(
    'This subscription is not active',
    `Your ${subscription.tier} subscription is ${subscription.status}, so this link no longer works. When it is active again, your roles come back, and a new link is emailed to you if your Discord account is not connected yet.`,
  );
}

export function linkedPage(services: Services, done: LinkedSession): string {
  const subscription = services.subscriptions.get(done.subscriptionId);
  const tier = subscription?.tier ?? '';
  const roles = (services.config.tiers[tier] ?? []).map((id) => html`<li>${services.discord?.bot.roleName(id) ?? id}</li>`);
  const invite = services.config.discord?.inviteUrl;
  const arrive = invite
    ? html`Join it with <a href="${invite}">this invite</a>; your roles are given as soon as you arrive.`
    : html`Join it with an invite from the community; your roles are given as soon as you arrive.`;
  const joinNote = {
    joined: html`You were added to the server.`,
    already: html`You were already in the server.`,
    busy: html`Discord is busy right now, and we could not add you to the server. ${arrive}`,
    failed: html`We could not add you to the server. ${arrive}`,
  }[done.joined];
  return renderPage('link-linked', 'Your Discord account is connected', { tier, roles: html`${roles}`, joinNote });
}

export function linkProblemPage(status: Exclude<TokenStatus, 'valid'>): string {
  const page = PROBLEM_PAGES[status];
  return renderPage('link-problem', page.title, { message: page.message });
}
