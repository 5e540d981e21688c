/**
 * The provider in the Express app: discovery at /.well-known/openid-configuration, its endpoints under /oidc, and
 * Arbiter's own interaction pages (sign in with Discord, then consent) at /oidc/interaction/:uid.
 */
import { statSync } from 'node:fs';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type Provider from 'oidc-provider';
import { authorizeUrl, identify } from '../../discord/oauth.js';
import { callbackParams, newState, stateProblem, type PendingState } from '../../discord/oauth-state.js';
import { csrfToken, requireCsrf } from '../../http/csrf.js';
import { routeLabel } from '../../http/metrics.js';
import { saveSession, takeFromSession } from '../../http/session.js';
import type { Services } from '../../services.js';
import { messagePage } from '../../views/document.js';
import { sqliteAdapter } from './adapter.js';
import { keysPath, loadSigningKeys } from './keys.js';
import { consentPage, oidcErrorPage } from './pages.js';
import { ACCOUNT_MODEL, ACCOUNT_TTL, callbackUrl, OIDC_PREFIX, type AccountRecord } from './constants.js';

declare module 'express-session' {
  interface SessionData {
    /** A sign-in with Discord on behalf of the provider's interaction `uid`. */
    oidcSignIn?: PendingState & { uid: string };
    /** Who Discord said signed in (or that they cancelled), for the interaction `uid` to pick up once. */
    oidcIdentity?: { uid: string; discordId?: string; username?: string; name?: string | null; denied?: boolean };
  }
}

export const OIDC_DISCORD_SCOPES = ['identify'] as const;
const DISCOVERY = '/.well-known/openid-configuration';

export function oidcRoutes(services: Services): Router {
  const { config, clock, audit, log } = services;
  const router = Router();
  const accounts = sqliteAdapter(services.db, clock)(ACCOUNT_MODEL);
  type Oidc = typeof import('oidc-provider');
  let errors: Oidc['errors'] | undefined;
  interface Built {
    keysChanged: number | undefined;
    settled: boolean;
    provider: Promise<Provider>;
  }
  let building: Built | undefined;
  const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();
  const keysChanged = () => {
    try {
      return statSync(keysPath(config.dataDir)).mtimeMs;
    } catch {
      return undefined;
    }
  };
  const build = async (entry: Built): Promise<Provider> => {
    const [keys, { buildProvider }, oidc] = await Promise.all([loadSigningKeys(config.dataDir, clock.now()), import('./provider.js'), import('oidc-provider')]);
    entry.keysChanged = keysChanged();
    errors = oidc.errors;
    return buildProvider(services, keys);
  };
  // Loaded at the first request rather than at start: oidc-provider prints a notice about the Node.js version on
  // import, which would come before (and garble) the messages of a process that never serves it. Built again when
  // the key file changed (arbiter oidc rotate-keys): its state is in the database, so nothing else is lost.
  const provider = (): Promise<Provider> => {
    if (building && (!building.settled || building.keysChanged === keysChanged())) return building.provider;
    const entry: Built = { keysChanged: undefined, settled: false, provider: Promise.resolve(undefined as never) };
    entry.provider = build(entry);
    entry.provider.then(
      () => void (entry.settled = true),
      // A failure (an unreadable key file) is reported on this request and tried again on the next.
      () => void (building === entry && (building = undefined)),
    );
    building = entry;
    return entry.provider;
  };
  const issuer = new URL(config.appUrl);
  // Forms on these pages end in a redirect to the app that asked (Chrome checks form-action along redirects), and
  // response_mode=form_post posts to it. Naming script-src lets oidc-provider add the hash of that page's one
  // inline script (the automatic submit); no other inline script runs.
  const appOrigins = [...new Set(config.oidcClients.flatMap((c) => [...c.redirectUris, ...c.postLogoutRedirectUris]).map((u) => new URL(u).origin))];
  const formAction: RequestHandler = (_req, res, next) => {
    const csp = res.getHeader('content-security-policy');
    if (typeof csp === 'string') {
      res.setHeader('content-security-policy', `${csp.replace("form-action 'self'", ["form-action 'self'", ...appOrigins].join(' '))}; script-src 'self'`);
    }
    next();
  };
  router.use([OIDC_PREFIX, DISCOVERY], routeLabel(OIDC_PREFIX), formAction);

  /** An error of the provider's (an interaction that ended or never was) as a page. */
  const refused = (res: Response, err: unknown) => {
    if (errors && err instanceof errors.OIDCProviderError) {
      res.status(err.statusCode).type('html').send(oidcErrorPage(err.error, err.error_description));
      return;
    }
    throw err;
  };

  const interaction = async (req: Request, res: Response) => {
    const op = await provider();
    try {
      const details = await op.interactionDetails(req, res);
      if (details.uid !== req.params.uid) throw new errors!.SessionNotFound('this sign-in belongs to another window');
      return { op, details };
    } catch (err) {
      refused(res, err);
      return undefined;
    }
  };

  router.get(`${OIDC_PREFIX}/interaction/:uid`, async (req, res) => {
    const found = await interaction(req, res);
    if (!found) return;
    const { op, details } = found;
    const clientId = String(details.params.client_id);
    const client = await op.Client.find(clientId);
    if (details.prompt.name === 'login') {
      const identity = req.session.oidcIdentity;
      if (identity?.uid === details.uid) {
        delete req.session.oidcIdentity;
        await saveSession(req);
        if (identity.denied || !identity.discordId) {
          await op.interactionFinished(req, res, { error: 'access_denied', error_description: 'the sign-in with Discord was cancelled' }, { mergeWithLastSubmission: false });
          return;
        }
        await accounts.upsert(identity.discordId, { username: identity.username, name: identity.name } satisfies AccountRecord, ACCOUNT_TTL);
        audit.record({ actor: 'subscriber', action: 'oidc.signed_in', discordId: identity.discordId, details: { client: clientId } });
        await op.interactionFinished(req, res, { login: { accountId: identity.discordId } }, { mergeWithLastSubmission: false });
        return;
      }
      if (!config.discord) {
        res.status(503).type('html').send(messagePage('Sign-in is not available', 'This server signs people in with Discord, and Discord is not configured.'));
        return;
      }
      const pending = newState(clock.now());
      req.session.oidcSignIn = { ...pending, uid: details.uid };
      await saveSession(req);
      res.redirect(303, authorizeUrl(config.discord, callbackUrl(config), pending.state, OIDC_DISCORD_SCOPES));
      return;
    }
    if (details.prompt.name === 'consent') {
      const accountId = details.session?.accountId ?? '';
      const stored = (await accounts.find(accountId)) as Partial<AccountRecord> | undefined;
      const scopes = String(details.params.scope ?? 'openid').split(' ').filter(Boolean);
      res.type('html').send(consentPage({
        uid: details.uid,
        csrf: csrfToken(req),
        client: client?.clientName ?? clientId,
        account: stored?.name ?? stored?.username ?? accountId,
        scopes,
      }));
      return;
    }
    refused(res, new errors!.InvalidRequest(`unexpected step ${details.prompt.name}`));
  });

  const form = express.urlencoded({ extended: false, limit: '4kb' });

  router.post(`${OIDC_PREFIX}/interaction/:uid/confirm`, form, requireCsrf, async (req, res) => {
    const found = await interaction(req, res);
    if (!found) return;
    const { op, details } = found;
    if (details.prompt.name !== 'consent' || !details.session?.accountId) return refused(res, new errors!.InvalidRequest('nothing to consent to'));
    const clientId = String(details.params.client_id);
    const accountId = details.session.accountId;
    const grant = (details.grantId ? await op.Grant.find(details.grantId) : undefined) ?? new op.Grant({ accountId, clientId });
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    audit.record({ actor: 'subscriber', action: 'oidc.consented', discordId: accountId, details: { client: clientId, scopes: missing.missingOIDCScope ?? [] } });
    await op.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });

  router.post(`${OIDC_PREFIX}/interaction/:uid/abort`, form, requireCsrf, async (req, res) => {
    const found = await interaction(req, res);
    if (!found) return;
    const { op, details } = found;
    audit.record({ actor: 'subscriber', action: 'oidc.consent_denied', discordId: details.session?.accountId ?? null, details: { client: String(details.params.client_id) } });
    await op.interactionFinished(req, res, { error: 'access_denied', error_description: 'the person declined' }, { mergeWithLastSubmission: false });
  });

  router.get(`${OIDC_PREFIX}/callback`, async (req, res) => {
    const pending = await takeFromSession(req, 'oidcSignIn');
    const query = callbackParams(req.query);
    const reason = stateProblem(pending, query.state, clock.now());
    if (!pending || reason !== null || !config.discord) {
      audit.record({ actor: 'system', action: 'oidc.sign_in_rejected', reason });
      res.status(400).type('html').send(messagePage('This sign-in could not be verified', 'It did not start here or took longer than 10 minutes. Go back to the app you came from and sign in again.'));
      return;
    }
    const back = `${OIDC_PREFIX}/interaction/${encodeURIComponent(pending.uid)}`;
    if (query.error || !query.code) {
      req.session.oidcIdentity = { uid: pending.uid, denied: true };
      await saveSession(req);
      res.redirect(303, back);
      return;
    }
    const user = await identify(config.discord, query.code, callbackUrl(config), OIDC_DISCORD_SCOPES, services.metrics.discordAnswer);
    if (!user) {
      res.status(400).type('html').send(messagePage('Sign-in failed', 'Discord did not accept the sign-in; it may have been used already or taken too long. Go back to the app you came from and sign in again.'));
      return;
    }
    req.session.oidcIdentity = { uid: pending.uid, discordId: user.id, username: user.username, name: user.globalName };
    await saveSession(req);
    res.redirect(303, back);
  });

  // The provider sees the request as made to APP_URL: the scheme and host of the issuer, and the client address
  // Express settled with TRUST_PROXY. Whatever X-Forwarded-* the request carried is replaced, never trusted twice.
  router.use(async (req, res, next) => {
    if (req.path !== DISCOVERY && !req.path.startsWith(`${OIDC_PREFIX}/`)) return next();
    let op: Provider;
    try {
      op = await provider();
    } catch (err) {
      log.error({ err }, 'the OpenID Connect provider could not start');
      throw err;
    }
    req.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
    req.headers['x-forwarded-host'] = issuer.host;
    req.headers['x-forwarded-for'] = req.ip ?? req.socket.remoteAddress ?? '';
    handlers.set(op, handlers.get(op) ?? op.callback());
    await handlers.get(op)!(req, res);
  });
  return router;
}
