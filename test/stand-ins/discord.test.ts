import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { Client, DiscordAPIError, Events, GatewayIntentBits, REST, RESTEvents, Routes, type GuildMember } from 'discord.js';
import { WebSocket, type RawData } from 'ws';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from '../../stand-ins/discord.js';

const CLIENT_ID = '1100000000000000001';
const GUILD_ID = '1200000000000000001';
const ROLE_A = '1300000000000000001';
const ROLE_B = '1300000000000000002';
const ROLE_HIGH = '1300000000000000003';
const ALICE = '1400000000000000001';
const BOB = '1400000000000000002';
const REDIRECT = 'http://127.0.0.1:9/auth/callback';
// Not starting with "bot": discord.js strips a leading Bot/Bearer from tokens, case-insensitively.
const BOT_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAx.fake.token';
const BOT = { Authorization: `Bot ${BOT_TOKEN}` };

const baseOptions: FakeDiscordOptions = {
  clientId: CLIENT_ID,
  clientSecret: 'client-secret',
  botToken: BOT_TOKEN,
  guildId: GUILD_ID,
  guildName: 'Test Guild',
  roles: [
    { id: ROLE_A, name: 'Awakened', position: 1 },
    { id: ROLE_B, name: 'Ascended', position: 2 },
    { id: ROLE_HIGH, name: 'Moderator', position: 10 },
  ],
  botRolePosition: 5,
};

async function start(t: TestContext, overrides: Partial<FakeDiscordOptions> = {}): Promise<FakeDiscord> {
  const fake = await startFakeDiscord({ ...baseOptions, ...overrides });
  t.after(() => fake.close());
  fake.addUser({ id: ALICE, username: 'alice', global_name: 'Alice' });
  fake.addUser({ id: BOB, username: 'bob' });
  return fake;
}

function authorizeUrl(fake: FakeDiscord, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: CLIENT_ID, redirect_uri: REDIRECT, response_type: 'code', scope: 'identify guilds.join',
    state: 'st4te', ...params,
  });
  return `${fake.authorizeUrl}?${query}`;
}

async function authorize(fake: FakeDiscord, params: Record<string, string> = {}): Promise<URL> {
  const res = await fetch(authorizeUrl(fake, params), { redirect: 'manual' });
  assert.equal(res.status, 302);
  return new URL(res.headers.get('location') ?? '');
}

function tokenRequest(fake: FakeDiscord, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${fake.apiUrl}/v10/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
}

async function accessToken(fake: FakeDiscord, userId: string, scope = 'identify guilds.join'): Promise<string> {
  fake.signIn(userId);
  const code = (await authorize(fake, { scope })).searchParams.get('code') ?? '';
  const res = await tokenRequest(fake, {
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, client_secret: 'client-secret',
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

function api(fake: FakeDiscord, method: string, path: string, body?: unknown, headers: Record<string, string> = BOT): Promise<Response> {
  return fetch(`${fake.apiUrl}/v10${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** The REST client discord.js uses, unmodified, pointed at the stand-in. */
function newRest(t: TestContext, fake: FakeDiscord): REST {
  const rest = new REST({ api: fake.apiUrl, version: '10' }).setToken(BOT_TOKEN);
  t.after(() => {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  });
  return rest;
}

describe('OAuth2', () => {
  it('authorizes, exchanges a single-use code, and serves the user', async (t) => {
    const fake = await start(t);
    fake.signIn(ALICE);
    const location = await authorize(fake);
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.equal(location.searchParams.get('state'), 'st4te');
    const code = location.searchParams.get('code') ?? '';
    assert.match(code, /^[A-Za-z0-9]{30}$/);

    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    const basic = `Basic ${Buffer.from(`${CLIENT_ID}:client-secret`).toString('base64')}`;
    const res = await tokenRequest(fake, form, { Authorization: basic });
    assert.equal(res.status, 200);
    const token = await json<{ access_token: string; token_type: string; expires_in: number; refresh_token: string; scope: string }>(res);
    assert.equal(token.token_type, 'Bearer');
    assert.equal(token.expires_in, 604800);
    assert.equal(token.scope, 'identify guilds.join');
    assert.ok(token.refresh_token);

    const again = await tokenRequest(fake, form, { Authorization: basic });
    assert.equal(again.status, 400);
    assert.deepEqual(await again.json(), { error: 'invalid_grant', error_description: 'Invalid "code" in request.' });

    const info = await json<{ scopes: string[]; user: { id: string }; application: { id: string } }>(
      await api(fake, 'GET', '/oauth2/@me', undefined, { Authorization: `Bearer ${token.access_token}` }));
    assert.deepEqual(info.scopes, ['identify', 'guilds.join']);
    assert.equal(info.user.id, ALICE);
    assert.equal(info.application.id, CLIENT_ID);

    const me = await api(fake, 'GET', '/users/@me', undefined, { Authorization: `Bearer ${token.access_token}` });
    assert.equal(me.status, 200);
    const user = await json(me);
    assert.equal(user.id, ALICE);
    assert.equal(user.username, 'alice');
    assert.equal(user.global_name, 'Alice');
    assert.equal(user.email, undefined); // no email scope

    const revoke = await fetch(`${fake.apiUrl}/oauth2/token/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
      body: new URLSearchParams({ token: token.access_token }),
    });
    assert.equal(revoke.status, 200);
    const after = await api(fake, 'GET', '/users/@me', undefined, { Authorization: `Bearer ${token.access_token}` });
    assert.equal(after.status, 401);
    assert.deepEqual(await after.json(), { message: '401: Unauthorized', code: 0 });
  });

  it('rejects JSON bodies, bad clients, wrong redirect_uri and expired codes like Discord', async (t) => {
    let now = new Date('2025-01-01T00:00:00Z');
    const fake = await start(t, { clock: { now: () => now } });
    fake.signIn(ALICE);
    const code = (await authorize(fake)).searchParams.get('code') ?? '';
    const good = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, client_secret: 'client-secret' };

    const asJson = await fetch(`${fake.apiUrl}/oauth2/token`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(good),
    });
    assert.equal(asJson.status, 400);
    assert.equal((await json(asJson)).error, 'unsupported_grant_type');

    const badClient = await tokenRequest(fake, { ...good, client_secret: 'nope' });
    assert.equal(badClient.status, 401);
    assert.deepEqual(await badClient.json(), { error: 'invalid_client' });

    const badRedirect = await tokenRequest(fake, { ...good, redirect_uri: 'http://127.0.0.1:9/other' });
    assert.equal(badRedirect.status, 400);
    assert.equal((await json(badRedirect)).error, 'invalid_grant');

    now = new Date(now.getTime() + 10 * 60_000 + 1);
    const expired = await tokenRequest(fake, good);
    assert.equal(expired.status, 400);
    assert.deepEqual(await expired.json(), { error: 'invalid_grant', error_description: 'Invalid "code" in request.' });
  });

  it('grants client credentials to the application itself: a token for its owner, no refresh token', async (t) => {
    const fake = await start(t);
    const basic = (secret: string) => ({ Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${secret}`).toString('base64')}` });
    const res = await tokenRequest(fake, { grant_type: 'client_credentials', scope: 'identify' }, basic('client-secret'));
    assert.equal(res.status, 200);
    const token = await json<{ access_token: string; token_type: string; expires_in: number; scope: string; refresh_token?: string }>(res);
    assert.equal(token.token_type, 'Bearer');
    assert.equal(token.expires_in, 604800);
    assert.equal(token.scope, 'identify');
    assert.equal(token.refresh_token, undefined);
    const me = await json(await api(fake, 'GET', '/users/@me', undefined, { Authorization: `Bearer ${token.access_token}` }));
    assert.equal(me.id, fake.ownerId);

    const inForm = await tokenRequest(fake, { grant_type: 'client_credentials', scope: 'identify', client_id: CLIENT_ID, client_secret: 'client-secret' });
    assert.equal(inForm.status, 200);

    const wrongSecret = await tokenRequest(fake, { grant_type: 'client_credentials', scope: 'identify' }, basic('nope'));
    assert.equal(wrongSecret.status, 401);
    assert.deepEqual(await wrongSecret.json(), { error: 'invalid_client' });

    const badScope = await tokenRequest(fake, { grant_type: 'client_credentials', scope: 'identify nonsense' }, basic('client-secret'));
    assert.equal(badScope.status, 400);
    assert.equal((await json(badScope)).error, 'invalid_scope');
  });

  it('refreshes tokens and rotates the refresh token', async (t) => {
    const fake = await start(t);
    fake.signIn(ALICE);
    const code = (await authorize(fake)).searchParams.get('code') ?? '';
    const client = { client_id: CLIENT_ID, client_secret: 'client-secret' };
    const first = await json<{ refresh_token: string }>(await tokenRequest(fake, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, ...client }));
    const refreshed = await tokenRequest(fake, { grant_type: 'refresh_token', refresh_token: first.refresh_token, ...client });
    assert.equal(refreshed.status, 200);
    const reused = await tokenRequest(fake, { grant_type: 'refresh_token', refresh_token: first.refresh_token, ...client });
    assert.equal(reused.status, 400);
    assert.equal((await json(reused)).error, 'invalid_grant');
  });

  it('shows error pages for bad requests and redirects with access_denied when consent is refused', async (t) => {
    const fake = await start(t);
    const notSignedIn = await fetch(authorizeUrl(fake), { redirect: 'manual' });
    assert.equal(notSignedIn.status, 400);
    assert.match(await notSignedIn.text(), /signed in/i);

    fake.signIn(ALICE);
    const bads: Record<string, string>[] = [{ scope: 'identify nonsense' }, { client_id: '42' }, { response_type: 'token' }, { redirect_uri: 'not a url' }];
    for (const bad of bads) {
      const res = await fetch(authorizeUrl(fake, bad), { redirect: 'manual' });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    }

    fake.denyNextConsent();
    const denied = await authorize(fake);
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 'st4te');
    assert.equal(denied.searchParams.get('code'), null);
    assert.match(denied.search, /error_description=The\+resource\+owner\+or\+authorization\+server\+denied\+the\+request/);
    assert.ok((await authorize(fake)).searchParams.get('code'), 'only the next consent is denied');
  });

  it('serves a consent page whose buttons are plain form posts', async (t) => {
    const fake = await start(t, { consent: 'page' });
    fake.signIn(BOB);
    const consent = async (action: string): Promise<URL> => {
      const page = await fetch(authorizeUrl(fake), { redirect: 'manual' });
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<button[^>]*value="authorize"[^>]*>Authorize<\/button>/);
      assert.match(html, /<button[^>]*value="cancel"[^>]*>Cancel<\/button>/);
      assert.match(html, /bob/);
      const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1] ?? '';
      const res = await fetch(fake.authorizeUrl, {
        method: 'POST', redirect: 'manual', body: new URLSearchParams({ request_id: requestId, action }),
      });
      assert.equal(res.status, 302);
      return new URL(res.headers.get('location') ?? '');
    };
    assert.ok((await consent('authorize')).searchParams.get('code'));
    // Once consented, prompt=none skips the page.
    assert.ok((await authorize(fake, { prompt: 'none' })).searchParams.get('code'));
    const cancelled = await consent('cancel');
    assert.equal(cancelled.searchParams.get('error'), 'access_denied');
    assert.equal(cancelled.searchParams.get('state'), 'st4te');
  });

  it('with an account chooser, the consent page asks who signs in and the code is that user\'s', async (t) => {
    const fake = await start(t, { accountChooser: true });
    fake.addUser({ id: '1400000000000000003', username: 'eve', global_name: 'Eve <i>' });
    const page = await fetch(authorizeUrl(fake), { redirect: 'manual' });
    assert.equal(page.status, 200, 'nobody needs to be signed in');
    const html = await page.text();
    const offered = [...html.matchAll(/name="user_id" value="(\d+)"/g)].map((m) => m[1]);
    assert.deepEqual(offered, [ALICE, BOB, '1400000000000000003'], 'every user but the bot and the owner');
    assert.match(html, /Eve &#60;i&#62;/);
    assert.doesNotMatch(html, /Eve <i>/);
    const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const answer = (form: Record<string, string>) =>
      fetch(fake.authorizeUrl, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ request_id: requestId, ...form }) });

    for (const userId of [undefined, fake.botUserId, fake.ownerId, '1499999999999999999']) {
      const refused = await answer({ action: 'authorize', ...(userId ? { user_id: userId } : {}) });
      assert.equal(refused.status, 400, `user_id ${userId}`);
      assert.match(await refused.text(), /Choose the account/);
    }
    const granted = await answer({ action: 'authorize', user_id: BOB });
    assert.equal(granted.status, 302);
    const code = new URL(granted.headers.get('location') ?? '').searchParams.get('code') ?? '';
    const token = await tokenRequest(fake, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, client_secret: 'client-secret' });
    const { access_token: accessToken } = await json<{ access_token: string }>(token);
    const me = await json(await api(fake, 'GET', '/users/@me', undefined, { Authorization: `Bearer ${accessToken}` }));
    assert.equal(me.id, BOB);
    assert.equal((await answer({ action: 'authorize', user_id: BOB })).status, 400, 'the request is spent');
  });
});

describe('bot REST', () => {
  it('answers with the bot, the guild, its roles and members, with rate-limit headers', async (t) => {
    const fake = await start(t);
    const me = await api(fake, 'GET', '/users/@me');
    assert.equal(me.status, 200);
    const bot = await json(me);
    assert.equal(bot.id, fake.botUserId);
    assert.equal(bot.bot, true);
    assert.equal(fake.botUserId, CLIENT_ID, 'a bot user id is its application id');
    for (const header of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-reset-after', 'x-ratelimit-bucket']) {
      assert.ok(me.headers.get(header), header);
    }

    const auths: Record<string, string>[] = [{}, { Authorization: 'Bot wrong' }, { Authorization: BOT_TOKEN }];
    for (const auth of auths) {
      const res = await api(fake, 'GET', `/guilds/${GUILD_ID}`, undefined, auth);
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { message: '401: Unauthorized', code: 0 });
    }

    const guild = await json<{ name: string; roles: { id: string }[]; owner_id: string }>(await api(fake, 'GET', `/guilds/${GUILD_ID}`));
    assert.equal(guild.name, 'Test Guild');
    assert.equal(guild.owner_id, fake.ownerId);
    const roles = await json<{ id: string; name: string; position: number; managed: boolean; permissions: string; tags?: { bot_id: string } }[]>(
      await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`));
    const everyone = roles.find((r) => r.id === GUILD_ID);
    assert.equal(everyone?.name, '@everyone');
    assert.equal(everyone?.position, 0);
    const botRole = roles.find((r) => r.id === fake.botRoleId);
    assert.equal(botRole?.managed, true);
    assert.equal(botRole?.tags?.bot_id, fake.botUserId);
    assert.equal(botRole?.position, 5);
    assert.ok(BigInt(botRole?.permissions ?? '0') & (1n << 28n));

    const self = await json<{ roles: string[]; user: { id: string } }>(await api(fake, 'GET', `/guilds/${GUILD_ID}/members/@me`));
    assert.equal(self.user.id, fake.botUserId);
    assert.deepEqual(self.roles, [fake.botRoleId]);

    fake.memberJoins(ALICE, [ROLE_A]);
    const alice = await json<Record<string, unknown>>(await api(fake, 'GET', `/guilds/${GUILD_ID}/members/${ALICE}`));
    assert.deepEqual(alice.roles, [ROLE_A]);
    assert.equal(alice.nick, null);
    assert.equal(alice.pending, false);
    assert.equal(alice.deaf, false);
    assert.match(String(alice.joined_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);

    const missing = await api(fake, 'GET', `/guilds/${GUILD_ID}/members/${BOB}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { message: 'Unknown Member', code: 10007 });

    const notSnowflake = await api(fake, 'GET', `/guilds/${GUILD_ID}/members/bob`);
    assert.equal(notSnowflake.status, 400);
    assert.equal((await json(notSnowflake)).code, 50035);

    const unknownGuild = await api(fake, 'GET', '/guilds/999/roles');
    assert.equal(unknownGuild.status, 404);
    assert.deepEqual(await unknownGuild.json(), { message: 'Unknown Guild', code: 10004 });

    const unknownRoute = await api(fake, 'GET', '/nothing/here');
    assert.equal(unknownRoute.status, 404);
    assert.deepEqual(await unknownRoute.json(), { message: '404: Not Found', code: 0 });
  });

  it('lists members in user id order, paginated', async (t) => {
    const fake = await start(t);
    fake.memberJoins(BOB);
    fake.memberJoins(ALICE);
    const all = await json<{ user: { id: string } }[]>(await api(fake, 'GET', `/guilds/${GUILD_ID}/members?limit=1000`));
    const ids = all.map((m) => m.user.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
    assert.deepEqual(new Set(ids), new Set([ALICE, BOB, fake.botUserId, fake.ownerId]));

    const first = await json<{ user: { id: string } }[]>(await api(fake, 'GET', `/guilds/${GUILD_ID}/members`));
    assert.equal(first.length, 1, 'limit defaults to 1');
    const next = await json<{ user: { id: string } }[]>(await api(fake, 'GET', `/guilds/${GUILD_ID}/members?limit=2&after=${first[0]?.user.id}`));
    assert.deepEqual(next.map((m) => m.user.id), ids.slice(1, 3));

    const tooMany = await api(fake, 'GET', `/guilds/${GUILD_ID}/members?limit=1001`);
    assert.equal(tooMany.status, 400);
    assert.equal((await json(tooMany)).code, 50035);
  });

  it('pages through every member in user id order (numeric, not text) with after', async (t) => {
    const fake = await start(t);
    const ids = ['900000000000000', '1400000000000000010', '1400000000000000009', '80000000000000000'];
    for (const id of ids) {
      fake.addUser({ id, username: `u${id}` });
      fake.memberJoins(id);
    }
    const everyone = [...ids, fake.botUserId, fake.ownerId].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    const seen: string[] = [];
    let after = '0';
    for (;;) {
      const page = await json<{ user: { id: string } }[]>(await api(fake, 'GET', `/guilds/${GUILD_ID}/members?limit=2&after=${after}`));
      seen.push(...page.map((m) => m.user.id));
      if (page.length < 2) break;
      after = page.at(-1)?.user.id ?? '';
    }
    assert.deepEqual(seen, everyone);
    const past = await api(fake, 'GET', `/guilds/${GUILD_ID}/members?limit=1000&after=${everyone.at(-1)}`);
    assert.deepEqual(await past.json(), []);
  });

  it('refuses bad limit and after values with Discord\'s form errors, every bad field at once', async (t) => {
    const fake = await start(t);
    const errorsFor = async (query: string): Promise<unknown> => {
      const res = await api(fake, 'GET', `/guilds/${GUILD_ID}/members?${query}`);
      assert.equal(res.status, 400, query);
      const body = await json<{ message: string; code: number; errors: unknown }>(res);
      assert.equal(body.message, 'Invalid Form Body');
      assert.equal(body.code, 50035);
      return body.errors;
    };
    const error = (code: string, message: string): unknown => ({ _errors: [{ code, message }] });
    assert.deepEqual(await errorsFor('limit=abc&after=x'), {
      limit: error('NUMBER_TYPE_COERCE', 'Value "abc" is not int.'),
      after: error('NUMBER_TYPE_COERCE', 'Value "x" is not snowflake.'),
    });
    assert.deepEqual(await errorsFor('limit=2.5'), { limit: error('NUMBER_TYPE_COERCE', 'Value "2.5" is not int.') });
    assert.deepEqual(await errorsFor('limit=0'), { limit: error('NUMBER_TYPE_MIN', 'int value should be greater than or equal to 1.') });
    assert.deepEqual(await errorsFor('limit=1001'), { limit: error('NUMBER_TYPE_MAX', 'int value should be less than or equal to 1000.') });
    assert.deepEqual(await errorsFor('after=9223372036854775808'), {
      after: error('NUMBER_TYPE_MAX', 'snowflake value should be less than or equal to 9223372036854775807.'),
    });
    assert.equal((await api(fake, 'GET', `/guilds/${GUILD_ID}/members?limit=1000&after=9223372036854775807`)).status, 200);
  });

  it('adds members with guilds.join: 201 with roles, then 204 leaving roles alone', async (t) => {
    const fake = await start(t);
    const token = await accessToken(fake, ALICE);

    const added = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}`, { access_token: token, roles: [ROLE_A] });
    assert.equal(added.status, 201);
    const member = await json<{ roles: string[]; user: { id: string } }>(added);
    assert.deepEqual(member.roles, [ROLE_A]);
    assert.equal(member.user.id, ALICE);

    const again = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}`, { access_token: token, roles: [ROLE_B] });
    assert.equal(again.status, 204);
    assert.equal(await again.text(), '');
    assert.deepEqual(fake.member(ALICE)?.roles, [ROLE_A]);

    const wrongUser = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${BOB}`, { access_token: token });
    assert.equal(wrongUser.status, 403);
    assert.deepEqual(await wrongUser.json(), { message: 'Invalid OAuth2 access token', code: 50025 });

    const identifyOnly = await accessToken(fake, BOB, 'identify');
    const noScope = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${BOB}`, { access_token: identifyOnly });
    assert.equal(noScope.status, 403);
    assert.equal((await json(noScope)).code, 50025);

    const noToken = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${BOB}`, {});
    assert.equal(noToken.status, 400);
    const form = await json<{ code: number; errors: Record<string, unknown> }>(noToken);
    assert.equal(form.code, 50035);
    assert.ok(form.errors.access_token);

    const bobToken = await accessToken(fake, BOB);
    const aboveBot = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${BOB}`, { access_token: bobToken, roles: [ROLE_HIGH] });
    assert.equal(aboveBot.status, 403);
    assert.deepEqual(await aboveBot.json(), { message: 'Missing Permissions', code: 50013 });
    assert.equal(fake.member(BOB), undefined, 'a refused join adds nobody');
  });

  it('adds and removes roles with 204, records audit reasons, and enforces permissions and hierarchy', async (t) => {
    const fake = await start(t);
    fake.memberJoins(ALICE);
    const put = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}/roles/${ROLE_A}`, undefined,
      { ...BOT, 'X-Audit-Log-Reason': encodeURIComponent('Tier: awakened ✓') });
    assert.equal(put.status, 204);
    assert.deepEqual(fake.member(ALICE)?.roles, [ROLE_A]);
    assert.deepEqual(fake.roleChanges.at(-1), {
      userId: ALICE, roleId: ROLE_A, action: 'add', by: 'bot', reason: 'Tier: awakened ✓', at: fake.roleChanges.at(-1)?.at,
    });

    const del = await api(fake, 'DELETE', `/guilds/${GUILD_ID}/members/${ALICE}/roles/${ROLE_A}`);
    assert.equal(del.status, 204);
    assert.deepEqual(fake.member(ALICE)?.roles, []);
    assert.equal(fake.roleChanges.at(-1)?.action, 'remove');

    const unknownRole = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}/roles/1399999999999999999`);
    assert.equal(unknownRole.status, 404);
    assert.deepEqual(await unknownRole.json(), { message: 'Unknown Role', code: 10011 });

    const unknownMember = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${BOB}/roles/${ROLE_A}`);
    assert.equal(unknownMember.status, 404);
    assert.equal((await json(unknownMember)).code, 10007);

    for (const role of [ROLE_HIGH, fake.botRoleId]) {
      const res = await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}/roles/${role}`);
      assert.equal(res.status, 403, 'a role at or above the bot');
      assert.deepEqual(await res.json(), { message: 'Missing Permissions', code: 50013 });
    }

    fake.setBotPermissions({ rolePosition: 2 });
    assert.equal((await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}/roles/${ROLE_B}`)).status, 403);
    assert.equal((await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}/roles/${ROLE_A}`)).status, 204);

    fake.setBotPermissions({ canManageRoles: false, rolePosition: 5 });
    const noPerm = await api(fake, 'DELETE', `/guilds/${GUILD_ID}/members/${ALICE}/roles/${ROLE_A}`);
    assert.equal(noPerm.status, 403);
    assert.equal((await json(noPerm)).code, 50013);
    assert.deepEqual(fake.member(ALICE)?.roles, [ROLE_A]);
  });

  it('answers Missing Access when the bot is not in the guild', async (t) => {
    const fake = await start(t, { botInGuild: false });
    const res = await api(fake, 'GET', `/guilds/${GUILD_ID}/members/${fake.botUserId}`);
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { message: 'Missing Access', code: 50001 });
  });

  it('records every request', async (t) => {
    const fake = await start(t);
    await api(fake, 'PUT', `/guilds/${GUILD_ID}/members/${ALICE}`, { access_token: 'x' });
    const last = fake.requests.at(-1);
    assert.equal(last?.method, 'PUT');
    assert.equal(last?.path, `/api/v10/guilds/${GUILD_ID}/members/${ALICE}`);
    assert.equal(last?.body, '{"access_token":"x"}');
    assert.equal(last?.status, 403);
    assert.equal(last?.headers.authorization, `Bot ${BOT_TOKEN}`);
  });
});

describe('faults', () => {
  it('answers 429 like Discord, for the given number of matching requests', async (t) => {
    const fake = await start(t);
    fake.addFault({ method: 'GET', path: '/users/@me', status: 429, retryAfter: 0.25, times: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await api(fake, 'GET', '/users/@me');
      assert.equal(res.status, 429);
      assert.deepEqual(await res.json(), { message: 'You are being rate limited.', retry_after: 0.25, global: false });
      assert.equal(res.headers.get('retry-after'), '0.25');
      assert.equal(res.headers.get('x-ratelimit-scope'), 'user');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
      assert.equal(res.headers.get('x-ratelimit-reset-after'), '0.250');
      assert.equal(res.headers.get('x-ratelimit-global'), null);
    }
    assert.equal((await api(fake, 'GET', '/users/@me')).status, 200);

    fake.addFault({ path: /^\/guilds\/\d+$/, status: 429, global: true, retryAfter: 2 });
    const global = await api(fake, 'GET', `/guilds/${GUILD_ID}`);
    assert.equal(global.status, 429);
    assert.equal(global.headers.get('x-ratelimit-global'), 'true');
    assert.equal(global.headers.get('x-ratelimit-scope'), 'global');
    assert.equal((await json(global)).global, true);
  });

  it('answers a 401 exactly like Discord, byte for byte, after which discord.js sends nothing more', async (t) => {
    const fake = await start(t);
    fake.addFault({ status: 401, times: 1 });
    const faulted = await api(fake, 'GET', '/users/@me');
    assert.equal(faulted.status, 401);
    assert.equal(faulted.headers.get('content-type'), 'application/json');
    assert.equal(await faulted.text(), '{"message": "401: Unauthorized", "code": 0}');
    const wrongToken = await api(fake, 'GET', '/users/@me', undefined, { Authorization: 'Bot wrong' });
    assert.equal(await wrongToken.text(), '{"message": "401: Unauthorized", "code": 0}');

    fake.addFault({ status: 401, times: 1 });
    const rest = newRest(t, fake);
    await assert.rejects(rest.get(Routes.user('@me')), (e: unknown) =>
      e instanceof DiscordAPIError && e.status === 401 && e.code === 0 && e.message === '401: Unauthorized');
    const sent = fake.requests.length;
    await assert.rejects(rest.get(Routes.user('@me')), /Expected token to be set/);
    assert.equal(fake.requests.length, sent, 'the client dropped its token');
  });

  it('answers 5xx, custom bodies and delays, and can be cleared', async (t) => {
    const fake = await start(t);
    fake.addFault({ path: '/gateway/bot', status: 500 });
    const res = await api(fake, 'GET', '/gateway/bot');
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { message: '500: Internal Server Error', code: 0 });
    assert.ok(res.headers.get('x-ratelimit-bucket'));

    fake.addFault({ method: 'POST', path: '/oauth2/token', status: 400, body: { error: 'invalid_request' }, delayMs: 150 });
    const started = Date.now();
    const slow = await tokenRequest(fake, { grant_type: 'authorization_code' });
    assert.ok(Date.now() - started >= 140);
    assert.deepEqual(await slow.json(), { error: 'invalid_request' });

    fake.addFault({ status: 503, times: Infinity });
    fake.clearFaults();
    assert.equal((await api(fake, 'GET', '/users/@me')).status, 200);
  });
});

describe('rate limits', () => {
  const ROLES_ROUTE = 'GET /guilds/:guild/roles';
  const OTHER_GUILD = '1200000000000000002';

  function bucketOf(fake: FakeDiscord, route: string, holder = 'bot', major = GUILD_ID) {
    return fake.rateLimitStats().buckets.find((b) => b.routes.includes(route) && b.holder === holder && b.major === major);
  }

  it('keeps one bucket per route and guild, with Discord\'s headers on every answer and a 429 past the limit', async (t) => {
    const fake = await start(t, { rateLimits: { perRoute: 2, windowMs: 60_000 } });
    const before = Date.now();
    const first = await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`);
    const after = Date.now();
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit'), '2');
    assert.equal(first.headers.get('x-ratelimit-remaining'), '1');
    const bucket = first.headers.get('x-ratelimit-bucket') ?? '';
    assert.match(bucket, /^[0-9a-f]{32}$/);
    const reset = first.headers.get('x-ratelimit-reset') ?? '';
    assert.match(reset, /^\d{10}\.\d{3}$/, 'epoch seconds with milliseconds');
    const resetAfter = first.headers.get('x-ratelimit-reset-after') ?? '';
    assert.match(resetAfter, /^\d+\.\d{3}$/);
    // The window opened when the request arrived: Reset - Reset-After is that moment.
    const opened = Math.round(Number(reset) * 1000 - Number(resetAfter) * 1000);
    assert.ok(opened >= before && opened <= after, `${opened} within [${before}, ${after}]`);
    assert.ok(Number(resetAfter) > 0 && Number(resetAfter) <= 60);

    const second = await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`);
    assert.equal(second.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(second.headers.get('x-ratelimit-reset'), reset, 'one window, one reset time');

    const refused = await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`);
    assert.equal(refused.status, 429);
    const body = await json<{ message: string; retry_after: number; global: boolean }>(refused);
    assert.equal(body.message, 'You are being rate limited.');
    assert.equal(body.global, false);
    assert.ok(body.retry_after > 0 && body.retry_after <= 60);
    assert.equal(refused.headers.get('retry-after'), String(Math.ceil(body.retry_after)), 'whole seconds, rounded up');
    assert.equal(refused.headers.get('x-ratelimit-scope'), 'user');
    assert.equal(refused.headers.get('x-ratelimit-global'), null);
    assert.equal(refused.headers.get('x-ratelimit-limit'), '2');
    assert.equal(refused.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(refused.headers.get('x-ratelimit-bucket'), bucket);
    assert.equal(Number(refused.headers.get('x-ratelimit-reset-after')), body.retry_after);

    // Another guild (major parameter): the same bucket hash, its own count.
    const otherGuild = await api(fake, 'GET', `/guilds/${OTHER_GUILD}/roles`);
    assert.equal(otherGuild.status, 404);
    assert.equal(otherGuild.headers.get('x-ratelimit-bucket'), bucket);
    assert.equal(otherGuild.headers.get('x-ratelimit-remaining'), '1');
    // Another route: another bucket.
    const guild = await api(fake, 'GET', `/guilds/${GUILD_ID}`);
    assert.equal(guild.status, 200);
    assert.notEqual(guild.headers.get('x-ratelimit-bucket'), bucket);
    assert.equal(guild.headers.get('x-ratelimit-remaining'), '1');

    assert.deepEqual(bucketOf(fake, ROLES_ROUTE), {
      bucket, routes: [ROLES_ROUTE], major: GUILD_ID, holder: 'bot', requests: 3, refused: 1,
    });
    assert.equal(bucketOf(fake, ROLES_ROUTE, 'bot', OTHER_GUILD)?.requests, 1);
    assert.deepEqual(fake.rateLimitStats().tooManyRequests, { user: 1, global: 0, shared: 0 });
    assert.deepEqual(fake.requests.map((r) => r.status), [200, 200, 429, 404, 200]);
  });

  it('shares one bucket between routes configured with the same bucket name', async (t) => {
    const shared = { limit: 3, bucket: 'member-roles' };
    const fake = await start(t, {
      rateLimits: {
        windowMs: 60_000,
        routes: {
          'PUT /guilds/:guild/members/:user/roles/:role': shared,
          'DELETE /guilds/:guild/members/:user/roles/:role': shared,
        },
      },
    });
    fake.memberJoins(ALICE);
    const roleUrl = `/guilds/${GUILD_ID}/members/${ALICE}/roles/${ROLE_A}`;
    const answers = [];
    for (const method of ['PUT', 'DELETE', 'PUT', 'DELETE']) answers.push(await api(fake, method, roleUrl));
    assert.deepEqual(answers.map((r) => r.status), [204, 204, 204, 429]);
    assert.deepEqual(answers.map((r) => r.headers.get('x-ratelimit-remaining')), ['2', '1', '0', '0']);
    assert.equal(new Set(answers.map((r) => r.headers.get('x-ratelimit-bucket'))).size, 1);
    assert.deepEqual(fake.member(ALICE)?.roles, [ROLE_A], 'the refused DELETE changed nothing');
    const member = await api(fake, 'GET', `/guilds/${GUILD_ID}/members/${ALICE}`);
    assert.equal(member.headers.get('x-ratelimit-limit'), '1000', 'other routes keep the default');
    assert.deepEqual(bucketOf(fake, 'PUT /guilds/:guild/members/:user/roles/:role')?.routes, [
      'PUT /guilds/:guild/members/:user/roles/:role', 'DELETE /guilds/:guild/members/:user/roles/:role',
    ]);
  });

  it('limits the bot globally across routes; OAuth bearer calls and the token endpoint are not counted', async (t) => {
    const fake = await start(t, { rateLimits: { perRoute: 1, windowMs: 60_000, global: 2, globalWindowMs: 60_000 } });
    const token = await accessToken(fake, ALICE);
    const bearer = { Authorization: `Bearer ${token}` };

    assert.equal((await api(fake, 'GET', '/users/@me')).status, 200);
    assert.equal((await api(fake, 'GET', '/users/@me', undefined, bearer)).status, 200, 'a user has buckets of their own');
    const userRefused = await api(fake, 'GET', '/users/@me', undefined, bearer);
    assert.equal(userRefused.status, 429);
    assert.equal(userRefused.headers.get('x-ratelimit-scope'), 'user');
    assert.equal((await api(fake, 'GET', `/guilds/${GUILD_ID}`)).status, 200);

    const refused = await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('x-ratelimit-global'), 'true');
    assert.equal(refused.headers.get('x-ratelimit-scope'), 'global');
    assert.equal(refused.headers.get('x-ratelimit-bucket'), null, 'a global 429 carries no route bucket');
    const body = await json<{ message: string; retry_after: number; global: boolean }>(refused);
    assert.equal(body.message, 'You are being rate limited.');
    assert.equal(body.global, true);
    assert.ok(body.retry_after > 0 && body.retry_after <= 60);
    assert.equal(refused.headers.get('retry-after'), String(Math.ceil(body.retry_after)));
    assert.equal(bucketOf(fake, ROLES_ROUTE), undefined, 'refused before reaching the route');

    const stats = fake.rateLimitStats();
    assert.deepEqual(stats.tooManyRequests, { user: 1, global: 1, shared: 0 });
    assert.equal(stats.invalidRequests, 2);
    assert.deepEqual(stats.global, { requests: 3, refused: 1 });
    assert.equal(bucketOf(fake, 'GET /users/@me', `user:${ALICE}`, '')?.requests, 2);
    assert.equal(bucketOf(fake, 'POST /oauth2/token', 'anonymous', '')?.requests, 1);
  });

  it('can be tightened mid-test: new limits start fresh windows, counters carry on', async (t) => {
    const fake = await start(t);
    for (let i = 0; i < 3; i++) assert.equal((await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`)).headers.get('x-ratelimit-limit'), '1000');
    fake.setRateLimits({ perRoute: 2, windowMs: 60_000 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`)).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    fake.setRateLimits({ routes: { [ROLES_ROUTE]: { limit: 5 } } });
    const loosened = await api(fake, 'GET', `/guilds/${GUILD_ID}/roles`);
    assert.equal(loosened.headers.get('x-ratelimit-limit'), '5');
    assert.equal(loosened.headers.get('x-ratelimit-remaining'), '4');
    assert.equal((await api(fake, 'GET', `/guilds/${GUILD_ID}`)).headers.get('x-ratelimit-limit'), '2', 'earlier settings stay');
    assert.equal(bucketOf(fake, ROLES_ROUTE)?.requests, 7);

    assert.throws(() => fake.setRateLimits({ routes: { 'GET /nothing': { limit: 1 } } }), /unknown route "GET \/nothing"/);
    assert.throws(() => fake.setRateLimits({ perRoute: 0 }), /perRoute/);
    assert.throws(() => fake.setRateLimits({ windowMs: 1.5 }), /windowMs/);
    assert.throws(() => fake.setRateLimits({
      routes: { [ROLES_ROUTE]: { limit: 1, bucket: 'x' }, 'GET /guilds/:guild': { limit: 2, bucket: 'x' } },
    }), /bucket "x"/);
  });

  it('lets the unmodified discord.js REST client pace itself from the headers: 20 requests, 5 per window, no 429', async (t) => {
    const fake = await start(t, { rateLimits: { perRoute: 5, windowMs: 400 } });
    const ids = Array.from({ length: 20 }, (_, i) => `14000000000000001${String(i).padStart(2, '0')}`);
    for (const id of ids) {
      fake.addUser({ id, username: `member${id}` });
      fake.memberJoins(id);
    }
    const rest = newRest(t, fake);
    let waits = 0;
    rest.on(RESTEvents.RateLimited, () => waits++);
    const members = await Promise.all(ids.map((id) => rest.get(Routes.guildMember(GUILD_ID, id)) as Promise<{ user: { id: string } }>));
    assert.deepEqual(members.map((m) => m.user.id), ids);
    const bucket = bucketOf(fake, 'GET /guilds/:guild/members/:user');
    assert.equal(bucket?.requests, 20);
    assert.equal(bucket?.refused, 0);
    assert.deepEqual(fake.rateLimitStats().tooManyRequests, { user: 0, global: 0, shared: 0 });
    // (3 waits normally; fewer only if a window ran out before its 5 requests arrived)
    assert.ok(waits >= 1, 'the client waited for the bucket to reset instead of sending');
  });

  it('makes the discord.js REST client wait out a global 429, after which every request succeeds', async (t) => {
    const fake = await start(t, { rateLimits: { global: 5 } });
    const ids = Array.from({ length: 8 }, (_, i) => `14000000000000002${String(i).padStart(2, '0')}`);
    for (const id of ids) {
      fake.addUser({ id, username: `member${id}` });
      fake.memberJoins(id);
    }
    const rest = newRest(t, fake);
    const limited: { global: boolean; scope: string }[] = [];
    rest.on(RESTEvents.RateLimited, (info) => limited.push({ global: info.global, scope: info.scope }));
    const members = await Promise.all(ids.map((id) => rest.get(Routes.guildMember(GUILD_ID, id)) as Promise<{ user: { id: string } }>));
    assert.deepEqual(members.map((m) => m.user.id), ids);
    const stats = fake.rateLimitStats();
    assert.ok(stats.tooManyRequests.global >= 1, 'the sixth request in the first second was refused');
    assert.equal(stats.tooManyRequests.user, 0);
    assert.equal(stats.global.requests, 8 + stats.global.refused);
    assert.ok(limited.some((l) => l.global), 'the client saw the global limit');
  });
});

interface Frame { op: number; d: unknown; s: number | null; t: string | null }

/** A bare gateway client: records every frame and lets a test wait for one. */
class RawGateway {
  readonly frames: Frame[] = [];
  readonly closed: Promise<number>;
  private compressed: Buffer[] = [];
  private inflatedSoFar = 0;

  private constructor(readonly ws: WebSocket, private readonly perPayload: boolean) {
    this.closed = new Promise((resolve) => ws.on('close', (code: number) => resolve(code)));
    ws.on('message', (data: RawData, isBinary: boolean) => this.frames.push(this.decode(data as Buffer, isBinary)));
  }

  /** perPayload: the client identifies with compress: true, so each binary frame is a whole zlib stream. */
  static async open(url: string, perPayload = false): Promise<RawGateway> {
    const gateway = new RawGateway(new WebSocket(url), perPayload);
    await once(gateway.ws, 'open');
    return gateway;
  }

  /** zlib-stream: inflate everything received so far and keep what is new. */
  private decode(data: Buffer, isBinary: boolean): Frame {
    if (!isBinary) return JSON.parse(data.toString('utf8')) as Frame;
    if (this.perPayload) return JSON.parse(inflateSync(data).toString('utf8')) as Frame;
    this.compressed.push(data);
    const all = inflateSync(Buffer.concat(this.compressed), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const text = all.subarray(this.inflatedSoFar).toString('utf8');
    this.inflatedSoFar = all.length;
    return JSON.parse(text) as Frame;
  }

  send(op: number, d: unknown): void {
    this.ws.send(JSON.stringify({ op, d }));
  }

  async waitFor(match: (f: Frame) => boolean, what = 'frame'): Promise<Frame> {
    const deadline = Date.now() + 2000;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.t ?? f.op))}`);
      await sleep(5);
    }
  }

  dispatch(t: string): Promise<Frame> {
    return this.waitFor((f) => f.t === t, t);
  }

  /** A heartbeat round trip: everything the server sent before the ACK has arrived. */
  async barrier(): Promise<void> {
    const acks = this.frames.filter((f) => f.op === 11).length;
    this.send(1, null);
    await this.waitFor(() => this.frames.filter((f) => f.op === 11).length > acks, 'ACK');
  }

  close(): Promise<number> {
    this.ws.close(1000);
    return this.closed;
  }
}

const GUILDS_AND_MEMBERS = GatewayIntentBits.Guilds | GatewayIntentBits.GuildMembers;

function identify(gw: RawGateway, intents = GUILDS_AND_MEMBERS, token = BOT_TOKEN): void {
  gw.send(2, { token, intents, properties: { os: 'linux', browser: 'test', device: 'test' } });
}

describe('gateway', () => {
  it('says HELLO, acknowledges heartbeats and refuses a bad token with 4004', async (t) => {
    const fake = await start(t);
    const info = await json<{ url: string; shards: number; session_start_limit: { max_concurrency: number } }>(await api(fake, 'GET', '/gateway/bot'));
    assert.equal(info.url, fake.gatewayUrl);
    assert.equal(info.shards, 1);
    assert.equal(info.session_start_limit.max_concurrency, 1);
    assert.equal((await api(fake, 'GET', '/gateway/bot', undefined, {})).status, 401);

    const gw = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    const hello = await gw.waitFor((f) => f.op === 10, 'HELLO');
    assert.equal((hello.d as { heartbeat_interval: number }).heartbeat_interval, 41250);
    await gw.barrier();
    identify(gw, GUILDS_AND_MEMBERS, 'wrong');
    assert.equal(await gw.closed, 4004);
    assert.equal(fake.gatewayIdentifies, 0);

    const old = await RawGateway.open(`${fake.gatewayUrl}?v=6&encoding=json`);
    assert.equal(await old.closed, 4012);
    const early = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    early.send(8, { guild_id: GUILD_ID, query: '', limit: 0 });
    assert.equal(await early.closed, 4003);
    const odd = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    odd.send(42, null);
    assert.equal(await odd.closed, 4001);
  });

  it('sends READY, then GUILD_CREATE, then member events to sessions with GUILD_MEMBERS', async (t) => {
    const fake = await start(t);
    fake.memberJoins(BOB, [ROLE_A]);
    const gw = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    identify(gw);
    const ready = await gw.dispatch('READY');
    const readyData = ready.d as { session_id: string; resume_gateway_url: string; guilds: unknown[]; user: { id: string; bot: boolean }; shard: number[]; application: { id: string } };
    assert.equal(ready.s, 1);
    assert.deepEqual(readyData.guilds, [{ id: GUILD_ID, unavailable: true }]);
    assert.equal(readyData.user.id, fake.botUserId);
    assert.equal(readyData.user.bot, true);
    assert.deepEqual(readyData.shard, [0, 1]);
    assert.equal(readyData.application.id, CLIENT_ID);
    assert.equal(readyData.resume_gateway_url, fake.gatewayUrl);
    assert.deepEqual(fake.identifies.map((i) => i.intents), [GUILDS_AND_MEMBERS]);

    const create = await gw.dispatch('GUILD_CREATE');
    const guild = create.d as { id: string; roles: { id: string }[]; members: { user: { id: string }; roles: string[] }[]; member_count: number; unavailable: boolean; channels: unknown[] };
    assert.equal(create.s, 2);
    assert.equal(guild.unavailable, false);
    assert.equal(guild.member_count, 3);
    assert.deepEqual(guild.channels, []);
    assert.ok(guild.roles.some((r) => r.id === GUILD_ID));
    // Without GUILD_PRESENCES Discord only sends the bot's own member here.
    assert.deepEqual(guild.members.map((m) => [m.user.id, m.roles]), [[fake.botUserId, [fake.botRoleId]]]);

    const guildsOnly = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    identify(guildsOnly, GatewayIntentBits.Guilds);
    await guildsOnly.dispatch('GUILD_CREATE');

    fake.memberJoins(ALICE, [ROLE_A]);
    fake.setMemberRoles(ALICE, [ROLE_A, ROLE_B]);
    fake.memberLeaves(ALICE);
    const add = await gw.dispatch('GUILD_MEMBER_ADD');
    assert.equal(add.s, 3);
    assert.deepEqual(add.d, { ...(add.d as object), guild_id: GUILD_ID, roles: [ROLE_A] });
    const update = await gw.dispatch('GUILD_MEMBER_UPDATE');
    assert.equal(update.s, 4);
    assert.deepEqual((update.d as { roles: string[] }).roles, [ROLE_A, ROLE_B]);
    const remove = await gw.dispatch('GUILD_MEMBER_REMOVE');
    assert.equal(remove.s, 5);
    assert.deepEqual(remove.d, { guild_id: GUILD_ID, user: { ...(remove.d as { user: object }).user, id: ALICE } });

    await guildsOnly.barrier();
    assert.ok(!guildsOnly.frames.some((f) => f.t?.startsWith('GUILD_MEMBER')), 'no member events without GUILD_MEMBERS');

    // Request Guild Members (what guild.members.fetch() sends)
    gw.send(8, { guild_id: GUILD_ID, query: '', limit: 0, nonce: 'n1' });
    const chunk = await gw.dispatch('GUILD_MEMBERS_CHUNK');
    const chunkData = chunk.d as { nonce: string; chunk_index: number; chunk_count: number; members: unknown[] };
    assert.equal(chunkData.nonce, 'n1');
    assert.equal(chunkData.chunk_count, 1);
    assert.equal(chunkData.members.length, 3);
    await gw.close();
    await guildsOnly.close();
  });

  it('resumes a session, replaying what was missed, and invalidates unknown ones', async (t) => {
    const fake = await start(t);
    const first = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    identify(first);
    const ready = await first.dispatch('READY');
    await first.dispatch('GUILD_CREATE');
    first.ws.close(4000);
    await first.closed;
    fake.memberJoins(ALICE);

    const second = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    second.send(6, { token: BOT_TOKEN, session_id: (ready.d as { session_id: string }).session_id, seq: 2 });
    const resumed = await second.dispatch('RESUMED');
    const replayed = await second.dispatch('GUILD_MEMBER_ADD');
    assert.equal(replayed.s, 3);
    assert.equal(resumed.s, 4);
    assert.ok(second.frames.indexOf(replayed) < second.frames.indexOf(resumed));
    assert.equal(fake.gatewayResumes, 1);

    const third = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    third.send(6, { token: BOT_TOKEN, session_id: 'nope', seq: 1 });
    const invalid = await third.waitFor((f) => f.op === 9, 'op 9');
    assert.equal(invalid.d, false);
    await second.close();
    await third.close();
  });

  it('honours compress=zlib-stream', async (t) => {
    const fake = await start(t);
    const gw = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json&compress=zlib-stream`);
    await gw.waitFor((f) => f.op === 10, 'HELLO');
    identify(gw);
    await gw.dispatch('READY');
    await gw.dispatch('GUILD_CREATE');
    fake.memberJoins(ALICE);
    await gw.dispatch('GUILD_MEMBER_ADD');
    await gw.barrier();
    assert.equal(fake.identifies[0]?.compress, 'zlib-stream');
    await gw.close();
  });

  it('compresses dispatches when IDENTIFY asks for compress: true', async (t) => {
    const fake = await start(t);
    const gw = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`, true);
    gw.send(2, { token: BOT_TOKEN, intents: GUILDS_AND_MEMBERS, compress: true, properties: {} });
    await gw.dispatch('READY');
    await gw.dispatch('GUILD_CREATE');
    assert.equal(fake.identifies[0]?.compress, 'payload');
    await gw.close();
  });

  it('tells a bot outside the guild about no guilds', async (t) => {
    const fake = await start(t, { botInGuild: false });
    const gw = await RawGateway.open(`${fake.gatewayUrl}?v=10&encoding=json`);
    identify(gw);
    assert.deepEqual((( await gw.dispatch('READY')).d as { guilds: unknown[] }).guilds, []);
    await gw.barrier();
    assert.ok(!gw.frames.some((f) => f.t === 'GUILD_CREATE'));
    await gw.close();
  });
});

describe('discord.js against the fake', () => {
  function newClient(t: TestContext, fake: FakeDiscord): { client: Client; problems: string[] } {
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers],
      rest: { api: fake.apiUrl, retries: 1 },
    });
    t.after(() => client.destroy()); // also when an assertion failed half-way
    const problems: string[] = [];
    client.on(Events.Error, (e) => problems.push(`error: ${e.message}`));
    client.on(Events.ShardError, (e) => problems.push(`shardError: ${e.message}`));
    client.on(Events.Warn, (m) => problems.push(`warn: ${m}`));
    client.on(Events.ShardDisconnect, (e) => problems.push(`shardDisconnect: ${e.code}`));
    return { client, problems };
  }

  it('logs in, sees the guild, gets member events, changes roles through REST, and is destroyed cleanly', async (t) => {
    const fake = await start(t);
    const { client, problems } = newClient(t, fake);
    let reconnects = 0;
    client.on(Events.ShardReconnecting, () => reconnects++);
    const ready = once(client, Events.ClientReady);
    await client.login(BOT_TOKEN);
    await ready;

    assert.equal(client.user?.id, fake.botUserId);
    assert.equal(client.application?.id, CLIENT_ID);
    const guild = client.guilds.cache.get(GUILD_ID);
    assert.ok(guild, 'guild cached');
    assert.equal(guild.name, 'Test Guild');
    assert.ok(guild.available);
    assert.deepEqual(new Set(guild.roles.cache.keys()), new Set([GUILD_ID, ROLE_A, ROLE_B, ROLE_HIGH, fake.botRoleId]));
    assert.equal(guild.roles.everyone.id, GUILD_ID);
    assert.equal(guild.members.me?.roles.highest.id, fake.botRoleId);
    assert.ok(guild.members.me?.permissions.has('ManageRoles'));
    const gatewayCall = fake.requests.find((r) => r.path === '/gateway');
    assert.equal(gatewayCall?.query, 'v=10&encoding=json', 'discord.js asks for no compression without zlib-sync');

    const joined = once(client, Events.GuildMemberAdd) as Promise<[GuildMember]>;
    fake.memberJoins(ALICE, [ROLE_A]);
    const [member] = await joined;
    assert.equal(member.id, ALICE);
    assert.equal(member.user.username, 'alice');
    assert.ok(member.roles.cache.has(ROLE_A));

    const updated = once(client, Events.GuildMemberUpdate) as Promise<[GuildMember, GuildMember]>;
    await member.roles.add(ROLE_B, 'Subscription sub_1: awakened');
    const [, after] = await updated;
    assert.ok(after.roles.cache.has(ROLE_B));
    assert.deepEqual(fake.member(ALICE)?.roles, [ROLE_A, ROLE_B]);
    assert.equal(fake.roleChanges.at(-1)?.reason, 'Subscription sub_1: awakened');

    // roles.set() is a PATCH of the member.
    await member.roles.set([ROLE_A, ROLE_B], 'resync');
    assert.deepEqual(fake.member(ALICE)?.roles, [ROLE_A, ROLE_B]);
    assert.equal(fake.requests.at(-1)?.method, 'PATCH');

    // guilds.join through discord.js: 201 gives the member, 204 (already there) gives null.
    const bobToken = await accessToken(fake, BOB);
    const bob = await guild.members.add(BOB, { accessToken: bobToken, roles: [ROLE_A] });
    assert.ok(bob?.roles.cache.has(ROLE_A));
    // (without force, discord.js answers from its cache and sends nothing)
    assert.equal(await guild.members.add(BOB, { accessToken: bobToken, force: true, fetchWhenExisting: false }), null);
    assert.equal(fake.requests.at(-1)?.status, 204);

    // A 429 is waited out and retried; a 500 is retried.
    fake.addFault({ method: 'DELETE', path: /\/roles\//, status: 429, retryAfter: 0.1 });
    fake.addFault({ method: 'GET', path: `/guilds/${GUILD_ID}/members/${ALICE}`, status: 500 });
    let rateLimited = 0;
    client.rest.on('rateLimited', () => rateLimited++);
    await member.roles.remove(ROLE_B);
    assert.deepEqual(fake.member(ALICE)?.roles, [ROLE_A]);
    assert.equal(rateLimited, 1);
    const fetched = await guild.members.fetch({ user: ALICE, force: true });
    assert.deepEqual([...fetched.roles.cache.keys()].sort(), [GUILD_ID, ROLE_A].sort());

    // Discord's refusals reach the caller as DiscordAPIError with Discord's codes.
    await assert.rejects(member.roles.add(ROLE_HIGH), (e: unknown) => e instanceof DiscordAPIError && e.code === 50013 && e.status === 403);
    await assert.rejects(guild.members.fetch({ user: '1400000000000000099', force: true }),
      (e: unknown) => e instanceof DiscordAPIError && e.code === 10007);

    // The bot's role moving is seen through GUILD_ROLE_UPDATE.
    const roleMoved = once(client, Events.GuildRoleUpdate);
    fake.setBotPermissions({ rolePosition: 1 });
    await roleMoved;
    assert.equal(guild.roles.cache.get(fake.botRoleId)?.rawPosition, 1);

    // guild.members.fetch() asks the gateway (op 8) for everyone.
    const everyone = await guild.members.fetch();
    assert.deepEqual(new Set(everyone.keys()), new Set([ALICE, BOB, fake.botUserId, fake.ownerId]));

    const left = once(client, Events.GuildMemberRemove) as Promise<[GuildMember]>;
    fake.memberLeaves(ALICE);
    assert.equal((await left)[0].id, ALICE);

    assert.equal(reconnects, 0); // (discord.js emits shardReconnecting on destroy() too, so count before it)
    assert.equal(fake.gatewayIdentifies, 1);
    assert.deepEqual(problems, []);
    await client.destroy();
    for (let i = 0; i < 100 && fake.gatewayConnections > 0; i++) await sleep(10);
    assert.equal(fake.gatewayConnections, 0);
  });

  // (After an invalid session discord.js identifies again only once its identify throttle allows, 5-6.5 s after
  // the first IDENTIFY, so that path is tested with the bare gateway client above.)
  it('resumes after a dropped connection and gets the events it missed', async (t) => {
    const fake = await start(t);
    const { client, problems } = newClient(t, fake);
    const ready = once(client, Events.ClientReady);
    await client.login(BOT_TOKEN);
    await ready;

    const resumed = once(client, Events.ShardResume);
    const joined = once(client, Events.GuildMemberAdd) as Promise<[GuildMember]>;
    fake.disconnectGateway({ code: 4000 });
    fake.memberJoins(BOB); // happens while the bot is away; replayed on RESUME
    await resumed;
    assert.equal((await joined)[0].id, BOB);
    assert.equal(fake.gatewayResumes, 1);
    assert.equal(fake.gatewayIdentifies, 1);

    const joinedAgain = once(client, Events.GuildMemberAdd) as Promise<[GuildMember]>;
    fake.memberJoins(ALICE);
    assert.equal((await joinedAgain)[0].id, ALICE);

    await client.destroy();
    assert.deepEqual(problems, []);
  });

  it('fails login with TokenInvalid for a wrong token', async (t) => {
    const fake = await start(t);
    const { client } = newClient(t, fake);
    await assert.rejects(client.login('not-the-token'), { code: 'TokenInvalid' });
    await client.destroy();
    assert.equal(fake.gatewayIdentifies, 0);
  });
});
