/** The subscriber's pages: a link from the email, the new-link form, and the success page. */
import express, { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { SUBSCRIBER_SCOPES, authorizeUrl } from '../discord/oauth.js';
import { newState } from '../discord/oauth-state.js';
import { ArbiterError } from '../errors.js';
import { csrfToken, requireCsrf } from '../http/csrf.js';
import { saveSession } from '../http/session.js';
import type { Services } from '../services.js';
import { callbackHandler, callbackUrl } from './callback.js';
import { formatExpiry } from './link-email.js';
import { linkedPage, linkProblemPage, linkRequestedPage, messagePage, newLinkPage, notActivePage } from './pages.js';
import { requestLink } from './request-link.js';

const EmailForm = z.object({ email: z.email().max(254), _csrf: z.string() });

export function linkRoutes(services: Services): Router {
  // Pages are cheap to serve; asking for mail is not, and is what an abuser would repeat.
  const limiter = limit(60_000, 120);
  const mailLimiter = limit(15 * 60_000, 10);
  const { tokens, subscriptions, audit, commits, config, clock, log } = services;
  const router = Router();

  router.get('/link/new', limiter, (req, res) => {
    res.type('html').send(newLinkPage(csrfToken(req)));
  });

  router.post('/link/new', mailLimiter, express.urlencoded({ extended: false, limit: '4kb' }), requireCsrf, async (req, res) => {
    const form = EmailForm.safeParse(req.body);
    if (!form.success) {
      throw new ArbiterError('bad_request', 'Please enter the email address your subscription uses.', { status: 400 });
    }
    const email = form.data.email.toLowerCase();
    // The answer is the same whether the address is known, mailed or refused: the form tells nobody anything.
    const outcome = await commits.run(() => requestLink(services, email));
    if (outcome.refused > 0) log.info(outcome, 'new link not sent: one was sent recently to this subscription or address');
    res.type('html').send(linkRequestedPage(email));
  });

  router.get('/linked', (req, res) => {
    const done = req.session.linked;
    if (!done) {
      res.redirect(303, '/');
      return;
    }
    res.type('html').send(linkedPage(services, done));
  });

  router.get('/link/:token', limiter, async (req, res) => {
    const result = tokens.check(String(req.params.token));
    const subscription = result.row && subscriptions.get(result.row.subscription_id);
    if (result.status !== 'valid') {
      // Unknown tokens are not audited: anyone can make them up, and they name no subscription.
      if (result.row) audit.record({ actor: 'subscriber', action: `link.${result.status}`, subscriptionId: result.row.subscription_id });
      // Whatever revoked it, a link of a subscription that is not active is best explained by that.
      const revoked = result.status === 'revoked' || result.status === 'inactive';
      if (revoked && subscription && subscription.status !== 'active') res.status(409).type('html').send(notActivePage(subscription));
      else res.status(result.status === 'unknown' ? 404 : 410).type('html').send(linkProblemPage(result.status));
      return;
    }
    if (subscription!.status !== 'active') {
      res.status(409).type('html').send(notActivePage(subscription!));
      return;
    }
    if (!config.discord) {
      res.status(503).type('html').send(messagePage('Discord sign-in is not set up yet', `Your link is valid until ${formatExpiry(new Date(result.row!.expires_at))}. It will take you to Discord once this server has its Discord settings; please try again later.`));
      return;
    }
    // The session keeps the token's hash and a fresh state; the token itself is spent only after Discord says who you are.
    const pending = newState(clock.now());
    req.session.link = { tokenHash: result.row!.token_hash, ...pending };
    await saveSession(req);
    res.redirect(303, authorizeUrl(config.discord, callbackUrl(config), pending.state, SUBSCRIBER_SCOPES));
  });

  router.get('/auth/callback', limiter, callbackHandler(services));

  return router;
}

function limit(windowMs: number, max: number) {
  return rateLimit({
    windowMs,
    limit: max,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: () => {
      throw new ArbiterError('rate_limited', 'Too many attempts from your address. Please wait a few minutes and try again.', { status: 429 });
    },
  });
}
