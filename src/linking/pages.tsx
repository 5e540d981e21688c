/** The pages of the link flow. */
import type { ComponentChildren } from 'preact';
import type { Services } from '../services.js';
import type { Subscription } from '../subscriptions/store.js';
import { Page, messagePage, renderDocument } from '../views/document.js';
import type { TokenStatus } from './tokens.js';

export { messagePage };

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

/** For a link whose subscription is suspended or cancelled. */
export function notActivePage(subscription: Pick<Subscription, 'tier' | 'status'>): string {
  return messagePage(
    'This subscription is not active',
    `Your ${subscription.tier} subscription is ${subscription.status}, so this link no longer works. When it is active again, your roles come back, and a new link is emailed to you if your Discord account is not connected yet.`,
  );
}

export function linkedPage(services: Services, done: LinkedSession): string {
  const tier = services.subscriptions.get(done.subscriptionId)?.tier ?? '';
  const roles = (services.config.tiers[tier] ?? []).map((id) => services.discord?.bot.roleName(id) ?? id);
  const invite = services.config.discord?.inviteUrl;
  const arrive = invite ? (
    <>Join it with <a href={invite}>this invite</a>; your roles are given as soon as you arrive.</>
  ) : (
    <>Join it with an invite from the community; your roles are given as soon as you arrive.</>
  );
  const joinNote: Record<LinkedSession['joined'], ComponentChildren> = {
    joined: 'You were added to the server.',
    already: 'You were already in the server.',
    busy: <>Discord is busy right now, and we could not add you to the server. {arrive}</>,
    failed: <>We could not add you to the server. {arrive}</>,
  };
  return renderDocument(
    <Page title="Your Discord account is connected">
      <p>Your <strong>{tier}</strong> subscription now gives your Discord account these roles:</p>
      <ul class="roles">{roles.map((name) => <li>{name}</li>)}</ul>
      <p>{joinNote[done.joined]}</p>
      <p class="muted">You can close this page.</p>
    </Page>,
  );
}

export function linkProblemPage(status: Exclude<TokenStatus, 'valid'>): string {
  const page = PROBLEM_PAGES[status];
  return messagePage(page.title, page.message, <p><a class="button" href="/link/new">Ask for a new link</a></p>);
}

/** A sign-in that went wrong on the way back from Discord: the link itself still works. */
export function linkRetryPage(title: string, message: string): string {
  return messagePage(title, message, <p class="muted">If your link has expired, <a href="/link/new">ask for a new one</a>.</p>);
}

export function newLinkPage(csrf: string): string {
  return renderDocument(
    <Page title="Ask for a new link">
      <p>Enter the email address of your subscription. If it has an active subscription, we send a new link to it.</p>
      <form method="post" action="/link/new">
        <input type="hidden" name="_csrf" value={csrf} />
        <p>
          <label for="email">Email address</label>
          <br />
          <input id="email" type="email" name="email" required maxLength={254} autocomplete="email" />
        </p>
        <p><button type="submit">Send me a new link</button></p>
      </form>
    </Page>,
  );
}

export function linkRequestedPage(email: string): string {
  return messagePage(
    'Check your email',
    `If ${email} belongs to an active subscription, a new link is on its way, unless one was sent to it in the last few minutes: then use that one, as only the newest link works. It can take a few minutes to arrive; check your spam folder too.`,
  );
}
