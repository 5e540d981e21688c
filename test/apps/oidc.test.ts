import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as client from 'openid-client';
import type { FakeUser } from '../../stand-ins/discord.js';
import { sha256Hex } from '../../src/secure-compare.js';
import { linkSubscriber } from '../support/admin.js';
import { arbiter } from '../support/cli.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

const WIKI = { id: 'wiki', secret: 'wiki-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/wiki/callback', logout: 'http://127.0.0.1:9/wiki/bye' };
const DESKTOP = { id: 'desktop', redirect: 'http://localhost:9/desktop/callback' };
const CLIENTS = {
  clients: [
    {
      client_id: WIKI.id,
      client_name: 'The Wiki',
      client_secret_hash: sha256Hex(WIKI.secret),
      redirect_uris: [WIKI.redirect],
      post_logout_redirect_uris: [WIKI.logout],
      scopes: ['openid', 'profile', 'tiers', 'offline_access'],
    },
    { client_id: DESKTOP.id, client_secret_hash: 'public', redirect_uris: [DESKTOP.redirect], scopes: ['openid', 'tiers'] },
    { client_id: 'forum', client_secret_hash: 'public', redirect_uris: ['https://forum.example.com/cb'], scopes: ['openid'], id_token_signed_response_alg: 'ES256' },
  ],
};
const ADA: FakeUser = { id: '600000000000000001', username: 'ada', global_name: 'Ada' };
const BOB: FakeUser = { id: '600000000000000002', username: 'bob', global_name: null };

describe('OpenID Connect provider', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ oidcClients: CLIENTS });
  });
  after(() => world.stop());

  const rp = (secret = true) =>
    secret
      ? client.discovery(new URL(world.app.url), WIKI.id, WIKI.secret, client.ClientSecretBasic(WIKI.secret), { execute: [client.allowInsecureRequests] })
      : client.discovery(new URL(world.app.url), DESKTOP.id, undefined, client.None(), { execute: [client.allowInsecureRequests] });

  /**
   * A browser taken from the authorization URL through Arbiter, the Discord stand-in and the consent page until it
   * is sent to `redirectUri`; returns that address (with the code) and every hop.
   */
  async function authorize(browser: Browser, url: URL, redirectUri: string, decision: 'confirm' | 'abort' = 'confirm'): Promise<{ callback: URL; hops: string[] }> {
    const hops: string[] = [];
    let at = url.toString();
    let res = await browser.get(at);
    for (let step = 0; step < 20; step++) {
      hops.push(at);
      if (res.status >= 300 && res.status < 400) {
        at = new URL(res.headers.get('location')!, at).toString();
        if (at.startsWith(redirectUri)) return { callback: new URL(at), hops: [...hops, at] };
        res = await browser.get(at);
        continue;
      }
      const html = await res.text();
      assert.equal(res.status, 200, `${res.status} at ${at}: ${html}`);
      const action = new RegExp(`action="([^"]+/${decision})"`).exec(html)?.[1];
      const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(action && csrf, `no consent form at ${at}: ${html}`);
      at = new URL(action.replaceAll('&amp;', '&'), at).toString();
      res = await browser.post(at, { _csrf: csrf });
    }
    assert.fail(`no redirect to ${redirectUri} after ${hops.join(' -> ')}`);
  }

  async function signIn(user: FakeUser, options: { scope?: string; secret?: boolean } = {}) {
    world.discord.addUser(user);
    world.discord.signIn(user.id);
    const secret = options.secret ?? true;
    const config = await rp(secret);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const redirectUri = secret ? WIKI.redirect : DESKTOP.redirect;
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: options.scope ?? 'openid profile tiers',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const browser = new Browser();
    const { callback, hops } = await authorize(browser, url, redirectUri);
    return { config, verifier, state, callback, hops, browser, redirectUri };
  }

  async function tokensFor(user: FakeUser, options: { scope?: string; secret?: boolean } = {}) {
    const flow = await signIn(user, options);
    const tokens = await client.authorizationCodeGrant(flow.config, flow.callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    return { ...flow, tokens };
  }

  async function jwks(): Promise<JSONWebKeySet> {
    return (await (await fetch(`${world.app.url}/oidc/jwks`)).json()) as JSONWebKeySet;
  }

  test('discovery names APP_URL as the issuer and the endpoints under /oidc; the JWKS has RS256 and ES256 public keys only', async () => {
    const res = await fetch(`${world.app.url}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const meta = (await res.json()) as Record<string, unknown>;
    const base = world.app.url;
    assert.equal(meta.issuer, base);
    assert.equal(meta.authorization_endpoint, `${base}/oidc/auth`);
    assert.equal(meta.token_endpoint, `${base}/oidc/token`);
    assert.equal(meta.jwks_uri, `${base}/oidc/jwks`);
    assert.equal(meta.userinfo_endpoint, `${base}/oidc/me`);
    assert.equal(meta.end_session_endpoint, `${base}/oidc/session/end`);
    assert.equal(meta.revocation_endpoint, `${base}/oidc/token/revocation`);
    assert.deepEqual(meta.response_types_supported, ['code']);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.equal(meta.registration_endpoint, undefined);
    assert.equal(meta.pushed_authorization_request_endpoint, undefined);
    assert.deepEqual([...(meta.scopes_supported as string[])].sort(), ['offline_access', 'openid', 'profile', 'tiers']);
    for (const claim of ['sub', 'preferred_username', 'tiers', 'roles', 'subscription_status']) assert.ok((meta.claims_supported as string[]).includes(claim), claim);

    const set = await jwks();
    assert.deepEqual(set.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    for (const key of set.keys) {
      assert.ok(key.kid);
      assert.equal(key.d, undefined, 'no private part');
    }
    const file = join(world.dir.path, 'data', 'oidc-keys.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('a relying party signs a subscriber in (code flow with PKCE, Discord scope identify), verifies the ID token and reads the tier claims as they change', async () => {
    await linkSubscriber(world, { subscription_id: 'sub_oidc_1', customer_email: 'ada.oidc@example.com', tier: 'awakened' }, ADA);
    const { tokens, hops, config } = await tokensFor(ADA);
    const discord = new URL(hops.find((h) => h.includes('/oauth2/authorize'))!);
    assert.equal(discord.searchParams.get('scope'), 'identify');
    assert.equal(discord.searchParams.get('redirect_uri'), `${world.app.url}/oidc/callback`);
    assert.ok(hops.some((h) => new URL(h).pathname.startsWith('/oidc/interaction/')), 'the consent page was shown');

    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${world.app.url}/oidc/jwks`)), { issuer: world.app.url, audience: WIKI.id });
    assert.equal(payload.sub, ADA.id);
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(tokens.claims()!.sub, ADA.id);

    const info = await client.fetchUserInfo(config, tokens.access_token, ADA.id);
    assert.equal(info.preferred_username, 'ada');
    assert.deepEqual(info.tiers, ['awakened']);
    assert.deepEqual(info.roles, [ROLE.awakened]);
    assert.equal(info.subscription_status, 'active');

    await world.event({ event: 'subscription.upgraded', subscription_id: 'sub_oidc_1', customer_email: 'ada.oidc@example.com', tier: 'ascended' });
    const upgraded = await client.fetchUserInfo(config, tokens.access_token, ADA.id);
    assert.deepEqual(upgraded.tiers, ['ascended']);
    assert.deepEqual(upgraded.roles, [ROLE.awakened, ROLE.ascended].sort());

    await world.event({ event: 'subscription.cancelled', subscription_id: 'sub_oidc_1', customer_email: 'ada.oidc@example.com', tier: 'ascended' });
    const cancelled = await client.fetchUserInfo(config, tokens.access_token, ADA.id);
    assert.deepEqual(cancelled.tiers, []);
    assert.deepEqual(cancelled.roles, []);
    assert.equal(cancelled.subscription_status, 'cancelled');

    const audit = (action: string) => world.app.services.audit.list({ action, discordId: ADA.id });
    assert.ok(audit('oidc.signed_in').length >= 1);
    assert.ok(audit('oidc.consented').length >= 1);
    const issued = audit('oidc.token_issued');
    assert.ok(issued.length >= 1);
    assert.equal(issued[0]!.actor, `oidc:${WIKI.id}`);
    const revoked = world.discord.requests.filter((r) => r.path.endsWith('/oauth2/token/revoke'));
    assert.ok(revoked.length >= 1, "Discord's access token is revoked after use");
  });

  test('without scope tiers there are no tier claims; someone without a subscription is "none"', async () => {
    const { tokens, config } = await tokensFor(BOB, { scope: 'openid profile' });
    const info = await client.fetchUserInfo(config, tokens.access_token, BOB.id);
    assert.equal(info.preferred_username, 'bob');
    assert.equal(info.tiers, undefined);
    const withTiers = await tokensFor(BOB);
    const more = await client.fetchUserInfo(withTiers.config, withTiers.tokens.access_token, BOB.id);
    assert.deepEqual(more.tiers, []);
    assert.equal(more.subscription_status, 'none');
  });

  test('a public client signs in with PKCE and no secret; it may not ask for scopes it was not given', async () => {
    const { tokens, config } = await tokensFor(BOB, { secret: false, scope: 'openid tiers' });
    const info = await client.fetchUserInfo(config, tokens.access_token, BOB.id);
    assert.equal(info.subscription_status, 'none');
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: DESKTOP.redirect,
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const res = await new Browser().get(url.toString());
    assert.equal(res.status, 303);
    const back = new URL(res.headers.get('location')!);
    assert.equal(back.searchParams.get('error'), 'invalid_scope');
  });

  test('an app registered with ES256 gets ID tokens signed with the ES256 key', async () => {
    world.discord.addUser(BOB);
    world.discord.signIn(BOB.id);
    const config = await client.discovery(new URL(world.app.url), 'forum', undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: 'https://forum.example.com/cb', scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const { callback } = await authorize(new Browser(), url, 'https://forum.example.com/cb');
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    const { protectedHeader } = await jwtVerify(tokens.id_token!, createLocalJWKSet(await jwks()), { issuer: world.app.url, audience: 'forum' });
    assert.equal(protectedHeader.alg, 'ES256');
  });

  test('refused: an unknown client, a redirect URI not registered, a request without PKCE', async () => {
    const config = await rp();
    const challenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
    const params = { client_id: WIKI.id, response_type: 'code', scope: 'openid', redirect_uri: WIKI.redirect, code_challenge: challenge, code_challenge_method: 'S256' };
    const ask = (changed: Record<string, string | undefined>) => {
      const query = new URLSearchParams(Object.entries({ ...params, ...changed }).filter((e): e is [string, string] => e[1] !== undefined));
      return new Browser().get(`${world.app.url}/oidc/auth?${query}`);
    };
    const unknown = await ask({ client_id: 'nobody' });
    assert.equal(unknown.status, 400);
    const page = await unknown.text();
    assert.match(page, /This sign-in could not continue/);
    assert.match(page, /invalid_client/);
    assert.match(page, /static\/style\.css/, "in Arbiter's page style");

    const wrongRedirect = await ask({ redirect_uri: 'https://evil.example.com/callback' });
    assert.equal(wrongRedirect.status, 400, 'never sent to an address not registered');
    assert.equal(wrongRedirect.headers.get('location'), null);
    assert.match(await wrongRedirect.text(), /redirect_uri/);
    const prefix = await ask({ redirect_uri: `${WIKI.redirect}/more` });
    assert.equal(prefix.status, 400, 'redirect URIs match exactly');

    const noPkce = await ask({ code_challenge: undefined, code_challenge_method: undefined });
    assert.equal(noPkce.status, 303);
    const back = new URL(noPkce.headers.get('location')!);
    assert.equal(`${back.origin}${back.pathname}`, WIKI.redirect);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.match(back.searchParams.get('error_description')!, /PKCE/);
    void config;
  });

  const exchange = (code: string, extra: Record<string, string>, secret = WIKI.secret) =>
    fetch(`${world.app.url}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${WIKI.id}:${secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: WIKI.redirect, ...extra }),
    });

  test('refused at the token endpoint: a missing PKCE verifier, a wrong secret, a code used twice (which also revokes what it gave)', async () => {
    const flow = await signIn(ADA);
    const code = flow.callback.searchParams.get('code')!;
    const noVerifier = await exchange(code, {});
    assert.equal(noVerifier.status, 400);
    assert.equal(((await noVerifier.json()) as { error: string }).error, 'invalid_grant');

    const wrongSecret = await exchange(code, { code_verifier: flow.verifier }, 'not-the-secret');
    assert.equal(wrongSecret.status, 401);
    assert.equal(((await wrongSecret.json()) as { error: string }).error, 'invalid_client');

    const first = await exchange(code, { code_verifier: flow.verifier });
    assert.equal(first.status, 200, await first.clone().text());
    const { access_token } = (await first.json()) as { access_token: string };
    const again = await exchange(code, { code_verifier: flow.verifier });
    assert.equal(again.status, 400);
    assert.equal(((await again.json()) as { error: string }).error, 'invalid_grant');
    const info = await fetch(`${world.app.url}/oidc/me`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(info.status, 401, 'the tokens from the reused code are revoked');
    assert.ok(world.app.services.audit.list({ action: 'oidc.token_refused' }).some((r) => r.actor === `oidc:${WIKI.id}`));
  });

  test('the person may cancel on the consent page: the app is told access_denied', async () => {
    world.discord.addUser(BOB);
    world.discord.signIn(BOB.id);
    const config = await rp();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: WIKI.redirect,
      scope: 'openid tiers offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    const { callback } = await authorize(new Browser(), url, WIKI.redirect, 'abort');
    assert.equal(callback.searchParams.get('error'), 'access_denied');
  });

  test('a sign-in survives a restart between authorize and token; the session too; the code stays single-use', async () => {
    const flow = await signIn(ADA);
    await world.restart();
    const tokens = await client.authorizationCodeGrant(await rp(), flow.callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    assert.equal(tokens.claims()!.sub, ADA.id);
    const again = await exchange(flow.callback.searchParams.get('code')!, { code_verifier: flow.verifier });
    assert.equal(again.status, 400);
    // The provider's session cookie still signs the same browser in: no Discord round trip this time.
    const config = await rp();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: WIKI.redirect,
      scope: 'openid profile tiers',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const before = world.discord.requests.length;
    const { hops } = await authorize(flow.browser, url, WIKI.redirect);
    assert.ok(!hops.some((h) => h.includes('/oauth2/authorize')), `went to Discord again: ${hops.join(' -> ')}`);
    assert.equal(world.discord.requests.filter((r, i) => i >= before && r.path.endsWith('/oauth2/token')).length, 0);
  });

  test('RP-initiated logout ends the session and returns to the registered address', async () => {
    const { tokens, browser } = await tokensFor(ADA);
    const config = await rp();
    const end = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: WIKI.logout });
    const page = await browser.get(end.toString());
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Sign out/);
    const action = /action="([^"]+)"/.exec(html)![1]!;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
    const done = await browser.post(new URL(action, world.app.url).toString(), { xsrf, logout: 'yes' });
    assert.equal(done.status, 303);
    assert.ok(done.headers.get('location')!.startsWith(WIKI.logout));
    assert.ok(world.app.services.audit.list({ action: 'oidc.signed_out' }).length >= 1);
  });

  test('forwarded headers do not move the issuer: discovery always names APP_URL', async () => {
    const res = await fetch(`${world.app.url}/.well-known/openid-configuration`, {
      headers: { 'x-forwarded-host': 'evil.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' },
    });
    const meta = (await res.json()) as Record<string, string>;
    assert.equal(meta.issuer, world.app.url);
    assert.equal(meta.token_endpoint, `${world.app.url}/oidc/token`);
  });

  test('offline_access (asked with prompt=consent) gives a refresh token that works; revocation ends an access token', async () => {
    world.discord.addUser(ADA);
    world.discord.signIn(ADA.id);
    const config = await rp();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: WIKI.redirect,
      scope: 'openid tiers offline_access',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { callback } = await authorize(new Browser(), url, WIKI.redirect);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    assert.ok(tokens.refresh_token, 'a refresh token');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.equal((await client.fetchUserInfo(config, refreshed.access_token, ADA.id)).sub, ADA.id);
    await client.tokenRevocation(config, refreshed.access_token);
    const after = await fetch(`${world.app.url}/oidc/me`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
    assert.equal(after.status, 401);
  });

  test('CORS: a public app may call the token endpoint from its own origin, and nobody else', async () => {
    const ask = (origin: string, path = '/oidc/token') =>
      fetch(`${world.app.url}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    // Preflights are answered for any origin; the answer to the request itself carries the verdict.
    const call = (origin: string) =>
      fetch(`${world.app.url}/oidc/token`, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: DESKTOP.id, grant_type: 'authorization_code', code: 'x', redirect_uri: DESKTOP.redirect, code_verifier: 'y'.repeat(43) }) });
    assert.equal((await ask('http://localhost:9')).status, 204);
    assert.equal((await call('http://localhost:9')).headers.get('access-control-allow-origin'), 'http://localhost:9');
    assert.equal((await call('https://evil.example.com')).headers.get('access-control-allow-origin'), null);
  });

  test('response_mode=form_post: a page that posts the code to the app, its one inline script allowed by hash', async () => {
    const { browser } = await tokensFor(ADA);
    const config = await rp();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: WIKI.redirect,
      scope: 'openid profile tiers',
      response_mode: 'form_post',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const res = await browser.get(url.toString());
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, new RegExp(`<form method="post" action="${WIKI.redirect}">`));
    assert.match(html, /name="code" value="[^"]+"/);
    const csp = res.headers.get('content-security-policy')!;
    assert.match(csp, /script-src 'self' 'sha256-[^']+'/);
    assert.match(csp, /form-action 'self' http:\/\/127\.0\.0\.1:9 /);
    assert.doesNotMatch(csp, /evil/);
  });

  test('after `arbiter oidc rotate-keys` the running Arbiter signs with the new keys; old ID tokens still verify, after a restart too', async () => {
    const old = await tokensFor(ADA);
    const oldKid = decodeProtectedHeader(old.tokens.id_token!).kid;
    const before = await jwks();
    const run = await arbiter(['oidc', 'rotate-keys'], world.env, world.dir.path);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /New signing keys/);
    assert.equal(statSync(join(world.dir.path, 'data', 'oidc-keys.json')).mode & 0o777, 0o600);

    const rotated = await jwks();
    assert.equal(rotated.keys.length, before.keys.length + 2);
    assert.ok(rotated.keys.some((k) => k.kid === oldKid), 'the old key is still published');
    const fresh = await tokensFor(ADA);
    const newKid = decodeProtectedHeader(fresh.tokens.id_token!).kid;
    assert.notEqual(newKid, oldKid);
    assert.ok(rotated.keys.some((k) => k.kid === newKid));
    // The relying party's session and the provider's state went through the change: userinfo still answers.
    assert.equal((await client.fetchUserInfo(fresh.config, old.tokens.access_token, ADA.id)).sub, ADA.id);

    await world.restart();
    const afterRestart = createLocalJWKSet(await jwks());
    await jwtVerify(old.tokens.id_token!, afterRestart, { issuer: world.app.url, audience: WIKI.id });
    await jwtVerify(fresh.tokens.id_token!, afterRestart, { issuer: world.app.url, audience: WIKI.id });
    assert.equal(decodeProtectedHeader((await tokensFor(ADA)).tokens.id_token!).kid, newKid);
  });
});

describe('OpenID Connect provider behind https', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ oidcClients: CLIENTS, env: { APP_URL: 'https://arbiter.test' } });
  });
  after(() => world.stop());

  test('the issuer is the https APP_URL and the provider sets its cookies Secure', async () => {
    const meta = (await (await fetch(`${world.app.url}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    assert.equal(meta.issuer, 'https://arbiter.test');
    assert.equal(meta.authorization_endpoint, 'https://arbiter.test/oidc/auth');
    const challenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
    const query = new URLSearchParams({ client_id: WIKI.id, response_type: 'code', scope: 'openid', redirect_uri: WIKI.redirect, code_challenge: challenge, code_challenge_method: 'S256' });
    const res = await fetch(`${world.app.url}/oidc/auth?${query}`, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(res.status, 303);
    const cookies = res.headers.getSetCookie().filter((c) => c.startsWith('oidc.'));
    assert.ok(cookies.length >= 2, cookies.join('\n'));
    for (const cookie of cookies) {
      assert.match(cookie, /; secure/i);
      assert.match(cookie, /; httponly/i);
      assert.match(cookie, /; samesite=lax/i);
    }
  });
});

describe('OpenID Connect provider without OIDC_CLIENTS_FILE', () => {
  let world: World;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.stop());

  test('answers discovery but knows no client', async () => {
    const meta = await fetch(`${world.app.url}/.well-known/openid-configuration`);
    assert.equal(meta.status, 200);
    const res = await new Browser().get(`${world.app.url}/oidc/auth?client_id=wiki&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(WIKI.redirect)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /invalid_client/);
  });
});
