import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createApiKeys, type ApiScope } from '../../src/apps/api-keys.js';
import { API_RATE_LIMIT, ENDPOINTS } from '../../src/apps/api/endpoints.js';
import { ActionResult, ErrorBody, Member, MembersByEmail, SubscriptionDetail } from '../../src/apps/api/schemas.js';
import type { AuditRow } from '../../src/audit/log.js';
import { createLogger } from '../../src/log.js';
import type { RoleGrant } from '../../src/roles/grants.js';
import type { FakeUser } from '../../stand-ins/discord.js';
import { ADMIN, ADMIN_ENV, linkSubscriber, signedIn } from '../support/admin.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

const CLI = { actor: 'cli:tester', name: 'tester (command line)' } as const;
const SUB: FakeUser = { id: '610000000000000001', username: 'subby' };
/** In the server, with no subscription. */
const MEMBER = '610000000000000002';
const NOBODY = '610000000000000009';
const REASON = 'Runs the weekly events';

function filesUnder(path: string): string[] {
  return readdirSync(path).flatMap((name) => {
    const full = join(path, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

describe('/api/v1 with API keys', () => {
  let w: World;
  let log = '';
  const keys: Record<string, string> = {};
  const sink = new Writable({
    write(chunk, _encoding, done) {
      log += chunk.toString();
      done();
    },
  });

  const makeKey = (name: string, scope: ApiScope) => {
    const { key } = createApiKeys(w.app.services).create({ name, scope }, CLI);
    keys[name] = key;
    return key;
  };

  async function api(method: string, path: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${w.app.url}/api/v1${path}`, { method, headers, body });
    const text = await res.text();
    assert.equal(res.headers.get('set-cookie'), null, `${method} ${path} set a cookie`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${method} ${path} answered ${res.status} ${text}`);
    return { status: res.status, headers: res.headers, json: JSON.parse(text) as Record<string, any> };
  }

  /** An error answer: the one shape, with its code. */
  function assertError(answer: { status: number; json: unknown }, status: number, code: string): { code: string; message: string; details: unknown } {
    assert.equal(answer.status, status, JSON.stringify(answer.json));
    const parsed = ErrorBody.parse(answer.json);
    assert.equal(parsed.error.code, code);
    return parsed.error;
  }

  /** What a change writes: compared before and after a refused one. */
  async function snapshot() {
    await w.settle();
    const db = w.app.services.db;
    return JSON.stringify({
      grants: db.prepare('SELECT * FROM role_grants ORDER BY id').all(),
      audit: db.prepare('SELECT COUNT(*) FROM audit_logs').pluck().get(),
      jobs: db.prepare('SELECT COUNT(*) FROM jobs').pluck().get(),
      subscriptions: db.prepare('SELECT * FROM subscriptions ORDER BY subscription_id').all(),
      tokens: db.prepare('SELECT COUNT(*) FROM link_tokens').pluck().get(),
      discordChanges: w.discord.requests.filter((r) => r.method !== 'GET').length,
      mails: w.smtp.messages.length,
    });
  }

  before(async () => {
    w = await startWorld({ log: createLogger('trace', sink), env: { ...ADMIN_ENV, RECONCILE_INTERVAL_MINUTES: '0' } });
    w.discord.addUser({ id: MEMBER, username: 'mem' });
    w.discord.memberJoins(MEMBER, []);
    await linkSubscriber(w, { subscription_id: 'sub_1', customer_email: 'subby@example.com', tier: 'awakened' }, SUB);
    await w.event({ subscription_id: 'sub_2', customer_email: 'Wren@Example.com', customer_name: 'Wren', tier: 'ascended' });
    await w.linkFor('wren@example.com');
    await w.settle();
    makeKey('reader', 'read');
    makeKey('writer', 'write');
  });
  after(() => w.stop());

  test('the OpenAPI document needs no key, is valid OpenAPI 3.1, and lists every route with the bearer scheme and the error shape', async () => {
    const { status, json: doc } = await api('GET', '/openapi.json');
    assert.equal(status, 200);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.match(doc.openapi, /^3\.1\./);
    assert.deepEqual(doc.servers, [{ url: '/api/v1' }]);
    assert.deepEqual(doc.components.securitySchemes.apiKey, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.apiKey.description });
    assert.ok(doc.components.schemas.Error.properties.error, 'the error shape is a component');
    for (const e of ENDPOINTS) {
      const op = doc.paths[e.path]?.[e.method];
      assert.ok(op, `${e.method} ${e.path} is in the document`);
      assert.deepEqual(op.security, [{ apiKey: e.scope === 'write' ? ['write'] : [] }]);
      assert.equal(op.responses['401'].content['application/json'].schema.$ref, '#/components/schemas/Error');
      assert.ok(op.responses['429'], `${e.method} ${e.path} documents the rate limit`);
      if (e.scope === 'write') assert.equal(op.requestBody.content['application/json'].schema.additionalProperties, false);
    }
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    assert.deepEqual(documented.sort(), [...ENDPOINTS.map((e) => `${e.method} ${e.path}`), 'get /openapi.json'].sort());
  });

  test('no key, a malformed one, an unknown one: 401 with WWW-Authenticate: Bearer, in the JSON error shape', async () => {
    const none = await api('GET', `/members/${SUB.id}`);
    assertError(none, 401, 'not_signed_in');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="arbiter"/);
    for (const key of ['nonsense', `arb_${randomBytes(32).toString('base64url')}`, `${keys.reader}x`]) {
      const refused = await api('GET', `/members/${SUB.id}`, { key });
      assertError(refused, 401, 'not_signed_in');
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer realm="arbiter", error="invalid_token"/);
    }
    // A client that prefers HTML still gets JSON here.
    assertError(await api('GET', `/members/${SUB.id}`, { headers: { accept: 'text/html' } }), 401, 'not_signed_in');
    const basic = await api('GET', `/members/${SUB.id}`, { headers: { authorization: `Basic ${Buffer.from(`x:${keys.reader}`).toString('base64')}` } });
    assertError(basic, 401, 'not_signed_in');
    // An unknown route under /api/v1 is a JSON 404 once the key is good, and a 401 before.
    assertError(await api('GET', '/nothing-here', { key: keys.reader }), 404, 'not_found');
    assertError(await api('GET', '/nothing-here'), 401, 'not_signed_in');
  });

  test('a revoked key is refused at once; the last use is recorded', async () => {
    const key = makeKey('short-lived', 'write');
    assert.equal((await api('GET', `/members/${SUB.id}`, { key })).status, 200);
    const used = w.app.services.db.prepare("SELECT last_used_at FROM api_keys WHERE name = 'short-lived'").pluck().get();
    assert.ok(used, 'last_used_at is set');
    createApiKeys(w.app.services).revoke('short-lived', CLI);
    const before = await snapshot();
    assertError(await api('GET', `/members/${SUB.id}`, { key }), 401, 'not_signed_in');
    assertError(await api('POST', `/members/${SUB.id}/reconcile`, { key, body: { reason: REASON } }), 401, 'not_signed_in');
    assert.equal(await snapshot(), before);
  });

  test("GET /members/:discordId: the person's standing and subscriptions, with a read key and a write key; 404 for a stranger", async () => {
    for (const key of [keys.reader!, keys.writer!]) {
      const { status, json } = await api('GET', `/members/${SUB.id}`, { key });
      assert.equal(status, 200);
      const member = Member.parse(json);
      assert.equal(member.discord_id, SUB.id);
      assert.deepEqual(member.tiers, ['awakened']);
      assert.equal(member.subscription_status, 'active');
      assert.deepEqual(member.roles.map((r) => r.role_id), [ROLE.awakened]);
      assert.ok(member.roles[0]!.reasons.some((r) => r.includes('sub_1')), JSON.stringify(member.roles));
      assert.deepEqual(member.subscriptions, [{ id: 'sub_1', tier: 'awakened', status: 'active', linked: true }]);
      assert.deepEqual(member.grants, []);
    }
    const unknown = assertError(await api('GET', `/members/${NOBODY}`, { key: keys.reader }), 404, 'not_found');
    assert.match(unknown.message, new RegExp(NOBODY));
    const bad = assertError(await api('GET', '/members/12ab', { key: keys.reader }), 400, 'bad_request');
    assert.deepEqual(bad.details, [{ in: 'path', field: 'discordId', message: 'The address does not name a Discord ID (17 to 20 digits).' }]);
    const extra = assertError(await api('GET', `/members/${SUB.id}?fields=all`, { key: keys.reader }), 400, 'bad_request');
    assert.deepEqual(extra.details, [{ in: 'query', field: 'fields', message: 'Unknown field: fields.' }]);
  });

  test('GET /subscriptions/:id, with both keys; 404 when there is none', async () => {
    for (const key of [keys.reader!, keys.writer!]) {
      const { status, json } = await api('GET', '/subscriptions/sub_2', { key });
      assert.equal(status, 200);
      const s = SubscriptionDetail.parse(json);
      assert.equal(s.id, 'sub_2');
      assert.equal(s.email, 'wren@example.com');
      assert.equal(s.name, 'Wren');
      assert.equal(s.tier, 'ascended');
      assert.equal(s.status, 'active');
      assert.equal(s.discord_id, null);
      assert.equal(s.linked, false);
    }
    const linked = SubscriptionDetail.parse((await api('GET', '/subscriptions/sub_1', { key: keys.reader })).json);
    assert.equal(linked.discord_id, SUB.id);
    assert.equal(linked.linked, true);
    assertError(await api('GET', '/subscriptions/sub_none', { key: keys.reader }), 404, 'not_found');
  });

  test('GET /members?email=: exact and case-insensitive, with both keys; an unknown email finds nothing; a bad query is a 400', async () => {
    for (const key of [keys.reader!, keys.writer!]) {
      const { status, json } = await api('GET', `/members?email=${encodeURIComponent('SUBBY@Example.COM')}`, { key });
      assert.equal(status, 200);
      const found = MembersByEmail.parse(json);
      assert.deepEqual(found.subscriptions.map((s) => s.id), ['sub_1']);
      assert.deepEqual(found.members.map((m) => m.discord_id), [SUB.id]);
      assert.deepEqual(found.members[0]!.tiers, ['awakened']);
    }
    const unlinked = MembersByEmail.parse((await api('GET', '/members?email=wren@example.com', { key: keys.reader })).json);
    assert.deepEqual(unlinked.subscriptions.map((s) => [s.id, s.linked]), [['sub_2', false]]);
    assert.deepEqual(unlinked.members, []);
    const partial = MembersByEmail.parse((await api('GET', '/members?email=subby@example.co', { key: keys.reader })).json);
    assert.deepEqual(partial, { subscriptions: [], members: [] });
    assertError(await api('GET', '/members', { key: keys.reader }), 400, 'bad_request');
    const notEmail = assertError(await api('GET', '/members?email=subby', { key: keys.reader }), 400, 'bad_request');
    assert.equal((notEmail.details as { field: string }[])[0]!.field, 'email');
    assertError(await api('GET', '/members?email=a@example.com&email=b@example.com', { key: keys.reader }), 400, 'bad_request');
  });

  test('a read key cannot change anything: 403 on every write route, nothing changed in the database or on Discord', async () => {
    const grantId = (w.app.services.db.prepare('SELECT MAX(id) FROM role_grants').pluck().get() as number | null) ?? 1;
    const before = await snapshot();
    const writes = ENDPOINTS.filter((e) => e.scope === 'write');
    assert.ok(writes.length >= 5);
    for (const e of writes) {
      const path = e.path.replace('{discordId}', SUB.id).replace('{grantId}', String(grantId)).replace('{id}', 'sub_2');
      const answer = await api('POST', path, { key: keys.reader, body: { role_id: ROLE.ascended, reason: REASON } });
      assertError(answer, 403, 'forbidden');
      assert.match(answer.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    }
    assert.equal(await snapshot(), before);
  });

  test('bad bodies are refused with 400 (or 415) and the problems listed; nothing changes', async () => {
    const before = await snapshot();
    const grant = (body: unknown, headers?: Record<string, string>) => api('POST', `/members/${MEMBER}/grants`, { key: keys.writer, body, headers });
    const missing = assertError(await grant({ role_id: ROLE.ascended }), 400, 'bad_request');
    assert.deepEqual((missing.details as { in: string; field: string }[]).map((d) => [d.in, d.field]), [['body', 'reason']]);
    assert.match(missing.message, /Nothing was changed/);
    const many = assertError(await grant({ role_id: 'ascended', reason: 'no', admin: true }), 400, 'bad_request');
    assert.deepEqual((many.details as { field: string | null }[]).map((d) => d.field).sort(), ['admin', 'reason', 'role_id']);
    const expiry = assertError(await grant({ role_id: ROLE.ascended, reason: REASON, expires_at: 'next tuesday' }), 400, 'bad_request');
    assert.deepEqual((expiry.details as { field: string }[]).map((d) => d.field), ['expires_at']);
    assertError(await grant({ role_id: ROLE.ascended, reason: REASON, expires_at: '2001-01-01' }), 400, 'bad_request');
    assertError(await grant('{"role_id": '), 400, 'bad_request');
    assertError(await grant([]), 400, 'bad_request');
    assertError(await grant({ role_id: ROLE.ascended, reason: 'x'.repeat(20_000) }), 413, 'payload_too_large');
    assertError(await grant('role_id=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
    // Well-formed, and refused by the action itself: a role that Arbiter does not manage.
    const unmanaged = assertError(await grant({ role_id: ROLE.booster, reason: REASON }), 400, 'bad_request');
    assert.match(unmanaged.message, /not one of the roles Arbiter manages/);
    assertError(await api('POST', `/members/${MEMBER}/grants/abc/revoke`, { key: keys.writer, body: { reason: REASON } }), 400, 'bad_request');
    assertError(await api('POST', `/members/${MEMBER}/reconcile`, { key: keys.writer }), 400, 'bad_request');
    assertError(await api('POST', `/members/${NOBODY}/reconcile`, { key: keys.writer, body: { reason: REASON } }), 404, 'not_found');
    assertError(await api('POST', '/subscriptions/sub_1/resend-link', { key: keys.writer, body: { reason: REASON } }), 409, 'bad_request');
    assert.equal(await snapshot(), before);
  });

  test('a write key grants, blocks, revokes, reconciles and resends a link through the admin actions, audited as api:<name>', async () => {
    const db = w.app.services.db;
    const granted = await api('POST', `/members/${MEMBER}/grants`, { key: keys.writer, body: { role_id: ROLE.ascended, reason: REASON, expires_at: '2099-01-01' } });
    assert.equal(granted.status, 200, JSON.stringify(granted.json));
    const grant = ActionResult.parse(granted.json);
    assert.equal(grant.outcome.kind, 'applied');
    assert.match(grant.outcome.text, /Granted Ascended to/);
    assert.ok(w.discord.member(MEMBER)!.roles.includes(ROLE.ascended));
    const row = db.prepare('SELECT * FROM role_grants WHERE id = ?').get(grant.grant_id) as RoleGrant;
    assert.equal(row.created_by, 'api:writer');
    assert.equal(row.created_by_name, 'writer (API key)');
    assert.equal(row.expires_at, '2099-01-01T00:00:00.000Z');

    const member = Member.parse((await api('GET', `/members/${MEMBER}`, { key: keys.reader })).json);
    assert.deepEqual(member.roles.map((r) => r.role_id), [ROLE.ascended]);
    assert.deepEqual(member.grants.map((g) => [g.id, g.kind, g.role_id, g.reason]), [[grant.grant_id, 'grant', ROLE.ascended, REASON]]);

    const revoked = ActionResult.parse((await api('POST', `/members/${MEMBER}/grants/${grant.grant_id}/revoke`, { key: keys.writer, body: { reason: REASON } })).json);
    assert.equal(revoked.outcome.kind, 'applied');
    assert.equal(w.discord.member(MEMBER)!.roles.includes(ROLE.ascended), false);
    assertError(await api('POST', `/members/${MEMBER}/grants/${grant.grant_id}/revoke`, { key: keys.writer, body: { reason: REASON } }), 409, 'bad_request');

    const blocked = ActionResult.parse((await api('POST', `/members/${SUB.id}/blocks`, { key: keys.writer, body: { role_id: 'all', reason: REASON } })).json);
    assert.equal(blocked.outcome.kind, 'applied');
    assert.equal(w.discord.member(SUB.id)!.roles.includes(ROLE.awakened), false);
    await api('POST', `/members/${SUB.id}/grants/${blocked.grant_id}/revoke`, { key: keys.writer, body: { reason: REASON } });
    assert.ok(w.discord.member(SUB.id)!.roles.includes(ROLE.awakened));

    // Someone took the role by hand; reconcile puts it back.
    w.discord.setMemberRoles(SUB.id, []);
    const reconciled = ActionResult.parse((await api('POST', `/members/${SUB.id}/reconcile`, { key: keys.writer, body: { reason: REASON } })).json);
    assert.equal(reconciled.outcome.kind, 'applied');
    assert.ok(w.discord.member(SUB.id)!.roles.includes(ROLE.awakened));

    const mails = w.smtp.messages.filter((m) => m.to === 'wren@example.com').length;
    const resent = ActionResult.parse((await api('POST', '/subscriptions/sub_2/resend-link', { key: keys.writer, body: { reason: REASON } })).json);
    assert.equal(resent.outcome.kind, 'applied');
    await w.linkFor('wren@example.com', mails + 1);

    const rows = db.prepare("SELECT * FROM audit_logs WHERE actor = 'api:writer' ORDER BY id").all() as AuditRow[];
    assert.deepEqual(rows.map((r) => r.action), ['grant.added', 'grant.revoked', 'block.added', 'block.revoked', 'roles.reconcile_requested', 'link.resend_requested']);
    for (const r of rows) {
      assert.equal(r.actor_name, 'writer (API key)');
      assert.equal(r.reason, REASON);
    }
  });

  test('the admin pages show the API as who acted, and the audit filter finds it', async () => {
    const admin = new Browser();
    await signedIn(w, admin, ADMIN);
    const audit = await admin.get(`${w.app.url}/admin/audit?actor=api:writer`);
    assert.equal(audit.status, 200);
    const html = await audit.text();
    assert.match(html, /grant\.added/);
    const who = [...html.matchAll(/data-label="Who">([^<]*)</g)].map((m) => m[1]);
    assert.equal(who.length, 6);
    assert.deepEqual(new Set(who), new Set(['api:writer']));
    const page = await admin.get(`${w.app.url}/admin/members/${MEMBER}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /writer \(API key\)/);
  });

  test(`a key that makes more than ${API_RATE_LIMIT} requests a minute gets 429 in the JSON shape with RateLimit headers; other keys go on`, async () => {
    const key = makeKey('burst', 'read');
    for (let i = 0; i < API_RATE_LIMIT; i++) {
      const answer = await api('GET', '/subscriptions/sub_1', { key });
      assert.equal(answer.status, 200, `request ${i + 1}`);
    }
    const limited = await api('GET', '/subscriptions/sub_1', { key });
    assertError(limited, 429, 'rate_limited');
    assert.match(limited.headers.get('ratelimit-policy') ?? '', new RegExp(`q=${API_RATE_LIMIT}; w=60`));
    assert.match(limited.headers.get('ratelimit') ?? '', /r=0/);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal((await api('GET', '/subscriptions/sub_1', { key: keys.reader })).status, 200);
  });

  test('no key appears in the log, nor in clear in any file under the data directory', async () => {
    await w.settle();
    assert.ok(log.includes('"path":"/api/v1/members/'), 'the log was captured');
    const all = Object.entries(keys);
    assert.ok(all.length >= 4);
    for (const [name, key] of all) {
      assert.equal(log.includes(key), false, `key ${name} is in the log`);
      assert.equal(log.includes(key.slice(4)), false, `the random part of key ${name} is in the log`);
    }
    for (const file of filesUnder(w.dir.path)) {
      const bytes = readFileSync(file);
      for (const [name, key] of all) assert.equal(bytes.includes(key.slice(4)), false, `key ${name} is in ${file}`);
    }
  });
});
