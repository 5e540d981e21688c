/**
 * GET /auth/callback: Discord sends the subscriber back here. The state is checked (single-use, 10 minutes), the
 * code exchanged, the user read, the token spent and the subscription linked in one transaction, the user added
 * to the server, and the access token revoked. Every refusal has its own page and audit entry and changes nothing.
 */
import type { Request, Response } from 'express';
import { callbackParams, stateProblem } from '../discord/oauth-state.js';
import { SUBSCRIBER_SCOPES, accountCreatedAt, exchangeCode, fetchUser, revokeToken } from '../discord/oauth.js';
import { isArbiterError } from '../errors.js';
import { RECONCILE_JOB } from '../roles/jobs.js';
import { saveSession, takeFromSession } from '../http/session.js';
import type { Services } from '../services.js';
import { completeLink } from './complete.js';
import { joinServer } from './join.js';
import { linkProblemPage, linkRetryPage, messagePage } from './pages.js';

export function callbackUrl(config: { appUrl: string }): string {
  return `${config.appUrl}/auth/callback`;
}

export function callbackHandler(services: Services) {
  const { tokens, audit, commits, config, clock, log, jobs } = services;
  return async (req: Request, res: Response): Promise<void> => {
    const pending = await takeFromSession(req, 'link');
    const q = callbackParams(req.query);
    const subscriptionId = pending ? tokens.checkHash(pending.tokenHash).row?.subscription_id ?? null : null;
    const refuse = (action: string, title: string, message: string, details: Record<string, unknown> = {}, status = 400) => {
      audit.record({ actor: 'subscriber', action, subscriptionId, details });
      res.status(status).type('html').send(linkRetryPage(title, message));
    };

    const reason = stateProblem(pending, q.state, clock.now());
    if (!pending || reason !== null) {
      refuse('link.state_rejected', 'This sign-in could not be verified', 'The sign-in did not start here or took too long. Open the link from your email again.', { reason });
      return;
    }
    if (q.error) {
      refuse('link.denied', 'Discord sign-in was cancelled', 'Nothing was changed. Your link still works: open it again and choose Authorize to get your roles.', { error: q.error });
      return;
    }
    if (!q.code || !config.discord) {
      refuse('link.code_missing', 'This sign-in could not be completed', 'Discord did not send a sign-in code. Open the link from your email again.');
      return;
    }
    const discordConfig = config.discord;
    let accessToken: string;
    try {
      accessToken = await exchangeCode(discordConfig, q.code, callbackUrl(config), SUBSCRIBER_SCOPES, services.metrics.discordAnswer);
    } catch (err) {
      if (!isArbiterError(err)) throw err;
      if (err.code === 'config_invalid') {
        // Our own credentials: nothing the subscriber can fix, and what an admin must see.
        log.error(err.message);
        services.oauth.lastConfigProblem = { message: err.message, at: clock.now().toISOString() };
        refuse('link.discord_misconfigured', 'Discord sign-in is not working on our side', 'Discord refused the sign-in settings of this server. This is a problem on our side, not with your account: nothing was changed and your link still works. Please try again later.', {}, 503);
        return;
      }
      if (err.code === 'discord_rate_limited') {
        log.warn(err.message);
        res.setHeader('retry-after', '60');
        refuse('link.discord_busy', 'Discord is busy', 'Discord is busy, try again in a minute: open the link from your email again. Nothing was changed and your link still works.', {}, 503);
        return;
      }
      if (err.code === 'oauth_failed') {
        const error = (err.details as { error?: string } | undefined)?.error;
        const message = error === 'invalid_grant'
          ? 'Discord did not accept the sign-in; it may have been used already or taken too long. Open the link from your email again.'
          : 'Discord did not accept the sign-in. Open the link from your email again.';
        if (error !== 'invalid_grant') log.warn({ error }, 'Discord refused a sign-in code exchange');
        refuse('link.code_rejected', 'This sign-in could not be completed', message, { error: err.message });
        return;
      }
      throw err;
    }
    try {
      const user = await fetchUser(discordConfig, accessToken, services.metrics.discordAnswer);
      const minAgeMs = config.minAccountAgeDays * 86_400_000;
      if (minAgeMs > 0 && clock.now().getTime() - accountCreatedAt(user.id).getTime() < minAgeMs) {
        audit.record({ actor: 'subscriber', action: 'link.account_too_new', discordId: user.id, subscriptionId, details: { createdAt: accountCreatedAt(user.id).toISOString() } });
        res.status(403).type('html').send(messagePage('This Discord account is too new', `Accounts must be at least ${config.minAccountAgeDays} days old to be linked. Your link still works: try again later or with another account.`));
        return;
      }
      const outcome = await commits.run(() => completeLink(services, pending.tokenHash, user.id));
      if (outcome.status !== 'linked') {
        audit.record({ actor: 'subscriber', action: `link.${outcome.status}`, discordId: user.id, subscriptionId });
        if (outcome.status === 'inactive') {
          res.status(409).type('html').send(messagePage('This subscription is not active', 'It was suspended or cancelled before the sign-in finished. Once it is active again, you will get a new link.'));
        } else {
          res.status(410).type('html').send(linkProblemPage(outcome.status));
        }
        return;
      }
      const joined = await joinServer(services.discord!.api, user.id, accessToken);
      if (joined.status === 'failed') {
        log.warn({ discordId: user.id, error: joined.reason }, 'could not add the member to the server');
        audit.record({ actor: 'system', action: 'link.join_failed', discordId: user.id, subscriptionId: outcome.subscriptionId, reason: joined.reason });
      }
      req.session.linked = { subscriptionId: outcome.subscriptionId, joined: joined.status === 'failed' ? (joined.busy ? 'busy' : 'failed') : joined.status };
      await saveSession(req);
      res.redirect(303, '/linked');
      // Now that they are in the server (or not), their roles: the reconcile queued with the link runs at once. After
      // the answer, so the redirect does not wait for it; if this process stops first, the queued one runs at its time.
      commits
        .run(() => jobs.enqueue(RECONCILE_JOB, user.id, { discordId: user.id, cause: `linked subscription ${outcome.subscriptionId}` }))
        .catch((err: unknown) => log.error({ err, discordId: user.id }, 'could not move the reconcile of a new link forward; it runs when queued'));
    } finally {
      void revokeToken(discordConfig, accessToken, services.metrics.discordAnswer);
    }
  };
}
