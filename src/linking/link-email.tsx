import { renderToString } from 'preact-render-to-string';
import type { AuditLog } from '../audit/log.js';
import type { Config } from '../config.js';
import type { Mailer } from '../email/mailer.js';
import type { Logger } from '../log.js';
import type { SubscriptionStore } from '../subscriptions/store.js';
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

interface LinkMail {
  name: string;
  tier: string;
  link: string;
  expires: string;
  requestUrl: string;
}

export function linkEmailText(m: LinkMail): string {
  return `Hello ${m.name},

thank you for your ${m.tier} subscription. To get your Discord roles, open this link and sign in with Discord:

${m.link}

The link works once and until ${m.expires}.

If it has expired, ask for a new one at ${m.requestUrl} with the email address this message was sent to.
If you did not subscribe, you can ignore this email.
`;
}

/** Mail clients ignore style sheets: the few styles are inline, which is fine here as no CSP applies to email. */
function LinkEmail(m: LinkMail) {
  return (
    <html lang="en">
      <body style="font-family: system-ui, sans-serif; line-height: 1.5; max-width: 36rem;">
        <p>Hello {m.name},</p>
        <p>thank you for your <strong>{m.tier}</strong> subscription. To get your Discord roles, open this link and sign in with Discord:</p>
        <p>
          <a href={m.link} style="display:inline-block;background:#5865f2;color:#fff;padding:.6rem 1.2rem;border-radius:6px;text-decoration:none;">Connect Discord</a>
        </p>
        <p style="font-size:.9rem;">Or copy this address into your browser: {m.link}</p>
        <p>The link works once and until {m.expires}.</p>
        <p style="font-size:.9rem;">
          If it has expired, ask for a new one at <a href={m.requestUrl}>{m.requestUrl}</a> with the email address this message was sent to. If you did not subscribe, you can ignore this email.
        </p>
      </body>
    </html>
  );
}

export function linkEmailHtml(m: LinkMail): string {
  return `<!doctype html>${renderToString(<LinkEmail {...m} />)}`;
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
    const mail: LinkMail = {
      name: subscription.name || 'there',
      tier: subscription.tier,
      link: `${deps.config.appUrl}/link/${token}`,
      expires: formatExpiry(expiresAt),
      requestUrl: `${deps.config.appUrl}/link/new`,
    };
    const { messageId } = await deps.mailer.send({
      to: subscription.email,
      subject: `Connect your Discord account to your ${subscription.tier} subscription`,
      text: linkEmailText(mail),
      html: linkEmailHtml(mail),
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
