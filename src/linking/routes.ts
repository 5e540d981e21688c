import { randomBytes, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { ArbiterError, isArbiterError } from '../errors.js';
import type { Config } from '../config.js';
import { SUBSCRIBER_SCOPES, accountCreatedAt, authorizeUrl, exchangeCode, fetchUser, revokeToken } from '../discord/oauth.js';
import { completeLink } from './complete.js';
import { csrfToken, requireCsrf } from '../http/csrf.js';
import type { Services } from '../services.js';
import { html, renderPage } from '../views.js';
import { LINK_EMAIL_JOB, formatExpiry } from './link-email.js';
import type { TokenStatus } from './tokens.js';

const PROBLEM_PAGES: Record<Exclude<TokenStatus, 'valid'>, { title: string; message: string }> = {
  expired: { title: 'This link has expired', message: 'Links work for a limited time. Ask for a new one below.' },
  used: { title: 'This link was already used', message: 'Each link works once. If your Discord account is not connected yet, ask for a new link below.' },
  revoked: { title: 'This link was replaced', message: 'A newer link was sent to you; only the newest one works. Use it, or ask for a new one below.' },
  unknown: { title: 'This link is not valid', message: 'Check that you copied the whole address from the email, or ask for a new link below.' },
};

const EmailForm = z.object({ email: z.email().max(254), _csrf: z.string() });
const CallbackQuery = z.object({
  state: z.string().max(200).optional(),
  code: z.string().max(500).optional(),
  error: z.string().max(200).optional(),
});
export const STATE_TTL_MS = 10 * 60_000;

export function callbackUrl(config: Pick<Config, 'appUrl'>): string {
  return `${config.appUrl}/auth/callback`;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

function messagePage(title: string, message: string): string {
  return renderPage('message', title, { message });
}

function linkedPage(services: Services, done: { subscriptionId: string; joined: 'joined' | 'already' | 'failed' }): string {
  const subscription = services.subscriptions.get(done.subscriptionId);
  const tier = subscription?.tier ?? '';
  const roles = (services.config.tiers[tier] ?? []).map((id) => html`<li>${services.discord?.bot.roleName(id) ?? id}</li>`);
  const joinNote = {
    joined: 'You were added to the server.',
    already: 'You were already in the server.',
    failed: 'We could not add you to the server: join it with an invite, and your roles are given as soon as you arrive.',
  }[done.joined];
  return renderPage('link-linked', 'Your Discord account is connected', { tier, roles: html`${roles}`, joinNote });
}

export function linkProblemPage(status: Exclude<TokenStatus, 'valid'>): string {
  const page = PROBLEM_PAGES[status];
  return renderPage('link-problem', page.title, { message: page.message });
}

export function linkRoutes(services: Services): Router {
  // Pages are cheap to serve; asking for mail is not, and is what an abuser would repeat.
  const limiter = limit(60_000, 120);
  const mailLimiter = limit(15 * 60_000, 10);
  const { tokens, subscriptions, jobs, audit, commits, config, clock, log } = services;
  const router = Router();

  router.get('/link/new', limiter, (req, res) => {
    res.type('html').send(renderPage('link-new', 'Ask for a new link', { csrf: csrfToken(req) }));
  });

  router.post('/link/new', mailLimiter, express.urlencoded({ extended: false, limit: '4kb' }), requireCsrf, async (req, res) => {
    const form = EmailForm.safeParse(req.body);
    if (!form.success) {
      throw new ArbiterError('bad_request', 'Please enter the email address your subscription uses.', { status: 400 });
    }
    const email = form.data.email.toLowerCase();
    // The answer is the same whether or not the address is known, so the form tells nobody who subscribes.
    await commits.run(() => {
      const active = subscriptions.byEmail(email).filter((s) => s.status === 'active');
      for (const s of active) jobs.enqueue(LINK_EMAIL_JOB, s.subscription_id, { subscriptionId: s.subscription_id });
      audit.record({ actor: 'subscriber', action: 'link.requested', email, details: { subscriptions: active.length } });
    });
    res.type('html').send(renderPage('link-requested', 'Check your email', { email }));
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
    if (result.status !== 'valid') {
      res.status(result.status === 'unknown' ? 404 : 410).type('html').send(linkProblemPage(result.status));
      return;
    }
    const subscription = subscriptions.get(result.row!.subscription_id)!;
    if (subscription.status !== 'active') {
      res.status(409).type('html').send(messagePage('This subscription is not active', `Your ${subscription.tier} subscription is ${subscription.status}. Once it is active again, you will get a new link.`));
      return;
    }
    if (!config.discord) {
      res.status(503).type('html').send(messagePage('Discord sign-in is not set up yet', `Your link is valid until ${formatExpiry(new Date(result.row!.expires_at))}. It will take you to Discord once this server has its Discord settings; please try again later.`));
      return;
    }
    // The session keeps the token's hash and a fresh state; the token itself is spent only after Discord says who you are.
    const state = randomBytes(32).toString('base64url');
    req.session.link = { tokenHash: result.row!.token_hash, state, issuedAt: clock.now().getTime() };
    await saveSession(req);
    res.redirect(303, authorizeUrl(config.discord, callbackUrl(config), state, SUBSCRIBER_SCOPES));
  });

  router.get('/auth/callback', limiter, async (req, res) => {
    const pending = req.session.link;
    // The state is single-use whatever happens next.
    delete req.session.link;
    await saveSession(req);
    const query = CallbackQuery.safeParse(req.query);
    const q = query.success ? query.data : {};
    const subscriptionId = pending ? tokens.checkHash(pending.tokenHash).row?.subscription_id ?? null : null;
    const refuse = (action: string, title: string, message: string, details: Record<string, unknown> = {}) => {
      audit.record({ actor: 'subscriber', action, subscriptionId, details });
      res.status(400).type('html').send(renderPage('link-retry', title, { message }));
    };

    const stateAge = pending ? clock.now().getTime() - pending.issuedAt : Infinity;
    if (!pending || !q.state || !sameText(q.state, pending.state) || stateAge > STATE_TTL_MS || stateAge < 0) {
      const reason = !pending ? 'no sign-in in progress' : !q.state ? 'no state' : stateAge > STATE_TTL_MS ? 'state expired' : 'state mismatch';
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
      accessToken = await exchangeCode(discordConfig, q.code, callbackUrl(config), SUBSCRIBER_SCOPES);
    } catch (err) {
      if (isArbiterError(err) && err.code === 'oauth_failed') {
        refuse('link.code_rejected', 'This sign-in could not be completed', 'Discord did not accept the sign-in; it may have been used already. Open the link from your email again.', { error: err.message });
        return;
      }
      throw err;
    }
    try {
      const user = await fetchUser(discordConfig, accessToken);
      const minAgeMs = config.minAccountAgeDays * 86_400_000;
      if (minAgeMs > 0 && clock.now().getTime() - accountCreatedAt(user.id).getTime() < minAgeMs) {
        audit.record({ actor: 'subscriber', action: 'link.account_too_new', discordId: user.id, subscriptionId, details: { createdAt: accountCreatedAt(user.id).toISOString() } });
        res.status(403).type('html').send(messagePage('This Discord account is too new', `Accounts must be at least ${config.minAccountAgeDays} days old to be linked. Your link still works: try again later or with another account.`));
        return;
      }
      const outcome = await commits.run(() => completeLink(services, pending.tokenHash, user.id));
      if (outcome.status !== 'linked') {
        if (outcome.status === 'inactive') {
          res.status(409).type('html').send(messagePage('This subscription is not active', 'It was suspended or cancelled before the sign-in finished. Once it is active again, you will get a new link.'));
        } else {
          res.status(410).type('html').send(linkProblemPage(outcome.status));
        }
        return;
      }
      let joined: 'joined' | 'already' | 'failed';
      try {
        joined = await services.discord!.api.joinGuild(user.id, accessToken);
      } catch (err) {
        joined = 'failed';
        log.warn({ discordId: user.id, error: (err as Error).message }, 'could not add the member to the server');
        audit.record({ actor: 'system', action: 'link.join_failed', discordId: user.id, subscriptionId: outcome.subscriptionId, reason: (err as Error).message });
      }
      req.session.linked = { subscriptionId: outcome.subscriptionId, joined };
      await saveSession(req);
      res.redirect(303, '/linked');
    } finally {
      void revokeToken(discordConfig, accessToken);
    }
  });

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
