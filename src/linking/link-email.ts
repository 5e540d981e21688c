import type { AuditLog } from '../audit/log.js';
import type { Config } from '../config.js';
import type { Mailer } from '../email/mailer.js';
import type { Logger } from '../log.js';
import type { SubscriptionStore } from '../subscriptions/store.js';
import { render } from '../views.js';
import type { LinkTokens } from './tokens.js';

export const LINK_EMAIL_JOB = 'link_email';

export interface LinkEmailDeps {
  config: Pick<Config, 'appUrl' | 'linkTtlHours'>;
  subscriptions: SubscriptionStore;
  tokens: LinkTokens;
  mailer: Mailer;
  audit: AuditLog;
  log: Logger;
}

export function formatExpiry(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The job that emails a link. The token is made here, not when the webhook arrived, because only its hash may be
 * stored: each attempt makes a fresh token (revoking the one an earlier failed attempt made).
 */
export function linkEmailJob(deps: LinkEmailDeps) {
  return async (payload: unknown): Promise<void> => {
    const { subscriptionId } = payload as { subscriptionId: string };
    const subscription = deps.subscriptions.get(subscriptionId);
    if (!subscription || subscription.status !== 'active') {
      deps.log.info({ subscriptionId }, 'link email skipped: subscription is not active');
      return;
    }
    const { token, expiresAt } = deps.tokens.issue(subscriptionId);
    const vars = {
      name: subscription.name || 'there',
      tier: subscription.tier,
      link: `${deps.config.appUrl}/link/${token}`,
      expires: formatExpiry(expiresAt),
      requestUrl: `${deps.config.appUrl}/link/new`,
    };
    const { messageId } = await deps.mailer.send({
      to: subscription.email,
      subject: `Connect your Discord account to your ${subscription.tier} subscription`,
      text: render('email/link.txt', vars),
      html: render('email/link.html', vars),
    });
    deps.audit.record({
      actor: 'system',
      action: 'link.emailed',
      email: subscription.email,
      subscriptionId,
      details: { messageId, expiresAt: expiresAt.toISOString() },
    });
  };
}
