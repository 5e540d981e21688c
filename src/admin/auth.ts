/**
 * Panel sign-in with Discord (scope identify only) and the layers every panel request passes: signed in, still on
 * the whitelist, within the idle and absolute limits; then, for a change, allowed to act and within the write rate.
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { authorizeUrl, identify } from '../discord/oauth.js';
import { callbackParams, newState, stateProblem } from '../discord/oauth-state.js';
import { ArbiterError } from '../errors.js';
import { requireCsrf } from '../http/csrf.js';
import { destroySession, regenerateSession, saveSession, takeFromSession } from '../http/session.js';
import type { Services } from '../services.js';
import { actorOf, roleOf, type AdminIdentity } from './access.js';
import { refusedPage, signedOutPage } from '../views/admin/sign-in.js';

export const ADMIN_SCOPES = ['identify'] as const;
/** Changes per admin per minute: enough for any person, too few for a runaway script. */
export const WRITES_PER_MINUTE = 30;

export function adminCallbackUrl(config: { appUrl: string }): string {
  return `${config.appUrl}/admin/callback`;
}

/** Only a panel path may be returned to after sign-in: never another site. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/admin(\/[^\\]*)?(\?.*)?$/.test(value) && !value.startsWith('//') ? value : '/admin';
}

export function adminIdentity(res: Response): AdminIdentity {
  const admin = res.locals.admin as AdminIdentity | undefined;
  if (!admin) throw new ArbiterError('not_signed_in', 'Sign in to the admin panel first.', { status: 401 });
  return admin;
}

export function signInRoutes(services: Services): Router {
  const { config, audit, clock, log } = services;
  const router = Router();

  router.get('/admin/login', async (req, res) => {
    if (!config.discord) throw new ArbiterError('config_invalid', 'The admin panel signs in with Discord, and the DISCORD_* settings are not set.', { status: 503 });
    if (req.session.admin && roleOf(config, req.session.admin.id)) {
      res.redirect(303, '/admin');
      return;
    }
    const pending = newState(clock.now());
    req.session.adminSignIn = { ...pending, next: safeNext(req.query.next) };
    await saveSession(req);
    res.redirect(303, authorizeUrl(config.discord, adminCallbackUrl(config), pending.state, ADMIN_SCOPES));
  });

  router.get('/admin/callback', async (req, res) => {
    const pending = await takeFromSession(req, 'adminSignIn');
    const query = callbackParams(req.query);
    const reason = stateProblem(pending, query.state, clock.now());
    if (!pending || reason !== null) {
      audit.record({ actor: 'system', action: 'admin.sign_in_rejected', reason });
      res.status(400).type('html').send(refusedPage('This sign-in could not be verified', 'It did not start here or took longer than 10 minutes. Sign in again.'));
      return;
    }
    if (query.error || !query.code || !config.discord) {
      res.status(400).type('html').send(refusedPage('Sign-in cancelled', 'Discord did not confirm who you are. Nothing was changed.'));
      return;
    }
    const user = await identify(config.discord, query.code, adminCallbackUrl(config), ADMIN_SCOPES, services.metrics.discordAnswer);
    if (!user) {
      res.status(400).type('html').send(refusedPage('Sign-in failed', 'Discord did not accept the sign-in; it may have been used already or taken too long. Sign in again.'));
      return;
    }
    const name = user.globalName ?? user.username;
    const role = roleOf(config, user.id);
    if (!role) {
      audit.record({ actor: 'system', action: 'admin.sign_in_refused', discordId: user.id, details: { name } });
      log.warn({ discordId: user.id }, 'admin panel sign-in refused: not on the whitelist');
      res.status(403).type('html').send(refusedPage('You do not have access', `The Discord account ${name} is not on this server's list of admins and staff. Ask an admin to add your Discord ID (${user.id}).`));
      return;
    }
    await regenerateSession(req);
    const now = clock.now().getTime();
    req.session.admin = { id: user.id, name, signedInAt: now, seenAt: now };
    req.session.cookie.maxAge = config.adminIdleMinutes * 60_000;
    await saveSession(req);
    audit.record({ actor: actorOf(user), actorName: name, action: 'admin.signed_in', discordId: user.id, details: { role } });
    res.redirect(303, pending.next);
  });

  router.get('/admin/signed-out', (_req, res) => {
    res.type('html').send(signedOutPage());
  });

  return router;
}

/**
 * Signed in, still whitelisted, within the idle and absolute limits. Renews the idle limit (and the cookie) on each
 * request. A page request without a session is sent to sign in; anything else gets 401.
 */
export function requireStaff(services: Services): RequestHandler {
  const { config, audit, clock } = services;
  const idleMs = config.adminIdleMinutes * 60_000;
  const absoluteMs = config.adminSessionHours * 3_600_000;
  return async (req, res, next) => {
    res.set('cache-control', 'no-store');
    const session = req.session.admin;
    const now = clock.now().getTime();
    const signIn = () => {
      if (req.method === 'GET' && req.accepts('html')) res.redirect(303, `/admin/login?next=${encodeURIComponent(req.originalUrl)}`);
      else throw new ArbiterError('not_signed_in', 'Your admin session has ended. Sign in again.', { status: 401 });
    };
    if (!session) return signIn();
    const role = roleOf(config, session.id);
    if (!role) {
      audit.record({ actor: actorOf(session), actorName: session.name, action: 'admin.locked_out', discordId: session.id, reason: 'no longer in ADMIN_DISCORD_IDS or STAFF_DISCORD_IDS' });
      await destroySession(req);
      res.status(403).type('html').send(refusedPage('You do not have access', 'Your Discord account is no longer on the list of admins and staff.'));
      return;
    }
    if (now - session.seenAt > idleMs || now - session.signedInAt > absoluteMs) {
      await destroySession(req);
      return signIn();
    }
    session.seenAt = now;
    req.session.cookie.maxAge = Math.min(idleMs, absoluteMs - (now - session.signedInAt));
    res.locals.admin = { id: session.id, name: session.name, role } satisfies AdminIdentity;
    next();
  };
}

/**
 * A change: full admins only, within the write rate, with the session's CSRF token. Parses the form. Made once for
 * the whole panel: each call has its own count.
 */
export function requireAdminWrite(): RequestHandler[] {
  const mayAct: RequestHandler = (_req, res, next) => {
    if (adminIdentity(res).role !== 'admin') {
      throw new ArbiterError('forbidden', 'Staff accounts can read the panel but not change anything. Ask an admin.', { status: 403 });
    }
    next();
  };
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: WRITES_PER_MINUTE,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => adminIdentity(res).id,
    handler: () => {
      throw new ArbiterError('rate_limited', `More than ${WRITES_PER_MINUTE} changes in a minute. Wait a moment and try again.`, { status: 429 });
    },
  });
  return [mayAct, limiter, express.urlencoded({ extended: false, limit: '16kb' }), requireCsrf];
}

export function logoutRoute(services: Services): RequestHandler[] {
  return [
    express.urlencoded({ extended: false, limit: '4kb' }),
    requireCsrf,
    async (req: Request, res: Response) => {
      const admin = adminIdentity(res);
      services.audit.record({ actor: actorOf(admin), actorName: admin.name, action: 'admin.signed_out', discordId: admin.id });
      await destroySession(req);
      res.redirect(303, '/admin/signed-out');
    },
  ];
}
