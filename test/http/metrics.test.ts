import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tempDir, testConfig, WEBHOOK_SECRET } from '../support/config.js';
import { find, parseSamples, value, type Sample } from '../support/prometheus.js';
import { startTestServer, until } from '../support/server.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';

/** What nginx adds to a request from a visitor on the internet. */
const REMOTE = { 'X-Forwarded-For': '203.0.113.9' };
const ROLE_ROUTE = '/guilds/:id/members/:id/roles/:id';

async function scrape(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

describe('GET /metrics after a full flow: webhook, email, link, OAuth, roles', () => {
  const token = randomBytes(24).toString('hex');
  const user = { id: '800000000000000042', username: 'mia' };
  let w: World;
  let linkToken: string;
  let code: string;
  let text: string;
  let samples: Sample[];

  before(async () => {
    w = await startWorld({ env: { TRUST_PROXY: '1', METRICS_TOKEN: token } });
    w.discord.addUser(user);
    w.discord.memberJoins(user.id, []);
    w.discord.signIn(user.id);
    // The first role change is rate limited; discord.js waits and sends it again by itself.
    w.discord.addFault({ method: 'PUT', path: /^\/guilds\/\d+\/members\/\d+\/roles\/\d+$/, status: 429, retryAfter: 0.05 });

    await w.event({ subscription_id: 'sub_metrics', customer_email: 'mia@example.com' });
    const link = await w.linkFor('mia@example.com');
    linkToken = link.split('/').pop()!;
    const { hops } = await new Browser().follow(link);
    assert.equal(new URL(hops.at(-1)!).pathname, '/linked');
    code = new URL(hops.find((h) => h.includes('/auth/callback'))!).searchParams.get('code')!;
    await until(() => w.discord.member(user.id)?.roles.includes(ROLE.awakened), 10_000, 'role added');
    await w.settle();

    // The spent link again, refusals of every kind, and addresses nothing answers.
    assert.equal((await new Browser().get(link)).status, 410);
    const body = eventBody({ subscription_id: 'sub_refused' });
    assert.equal((await postWebhook(w.app.url, body, { 'content-type': 'application/json' })).status, 401);
    assert.equal((await postWebhook(w.app.url, body, { ...standardHeaders(WEBHOOK_SECRET, body), 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}` })).status, 401);
    assert.equal((await postWebhook(w.app.url, body, { ...standardHeaders(WEBHOOK_SECRET, body), 'content-type': 'text/plain' })).status, 415);
    assert.equal((await postWebhook(w.app.url, '{"event":', standardHeaders(WEBHOOK_SECRET, '{"event":'))).status, 400);
    assert.equal((await fetch(`${w.app.url}/nowhere/${linkToken}`)).status, 404);
    assert.equal((await fetch(`${w.app.url}/static/missing-${linkToken}.css`)).status, 404);
    // The panel's sign-in check answers before any route.
    assert.equal((await fetch(`${w.app.url}/admin/members/${user.id}`, { redirect: 'manual' })).status, 303);

    const scraped = await scrape(w.app.url);
    assert.equal(scraped.status, 200);
    text = scraped.text;
    samples = parseSamples(text);
    assert.match(scraped.type, /^text\/plain; version=0\.0\.4/);
  });
  after(() => w.stop());

  test('every family has its help text', () => {
    for (const family of [
      'arbiter_webhooks_total', 'arbiter_jobs', 'arbiter_job_oldest_pending_seconds', 'arbiter_job_runs_total',
      'arbiter_discord_requests_total', 'arbiter_role_changes_total', 'arbiter_emails_total',
      'arbiter_http_request_duration_seconds', 'arbiter_build_info',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${family} \\S`, 'm'), family);
    }
  });

  test('webhooks by outcome, the refusals included', () => {
    assert.equal(value(samples, 'arbiter_webhooks_total', { outcome: 'accepted' }), 1);
    assert.equal(value(samples, 'arbiter_webhooks_total', { outcome: 'unsigned' }), 1);
    assert.equal(value(samples, 'arbiter_webhooks_total', { outcome: 'bad_signature' }), 1);
    assert.equal(value(samples, 'arbiter_webhooks_total', { outcome: 'unsupported' }), 1);
    assert.equal(value(samples, 'arbiter_webhooks_total', { outcome: 'malformed' }), 1);
  });

  test('the email sent, the role added, the jobs that ran and what waits', () => {
    assert.equal(value(samples, 'arbiter_emails_total', { result: 'sent' }), 1);
    assert.equal(value(samples, 'arbiter_emails_total', { result: 'failed' }), 0);
    assert.equal(value(samples, 'arbiter_role_changes_total', { action: 'added', result: 'ok' }), 1);
    assert.equal(value(samples, 'arbiter_role_changes_total', { action: 'removed', result: 'ok' }), 0);
    for (const kind of ['link_email', 'reconcile', 'ghost_sync']) {
      assert.equal(value(samples, 'arbiter_job_runs_total', { kind, outcome: 'done' }), 1, kind);
      for (const state of ['pending', 'running', 'dead']) assert.equal(value(samples, 'arbiter_jobs', { kind, state }), 0, `${kind} ${state}`);
      assert.equal(value(samples, 'arbiter_job_oldest_pending_seconds', { kind }), 0, kind);
    }
  });

  test('Discord calls by method, route pattern and status: the 429 discord.js retried is counted', () => {
    assert.equal(value(samples, 'arbiter_discord_requests_total', { method: 'PUT', route: ROLE_ROUTE, status: '429' }), 1);
    assert.equal(value(samples, 'arbiter_discord_requests_total', { method: 'PUT', route: ROLE_ROUTE, status: '204' }), 1);
    assert.equal(value(samples, 'arbiter_discord_requests_total', { method: 'POST', route: '/oauth2/token', status: '200' }), 1);
    assert.ok(value(samples, 'arbiter_discord_requests_total', { method: 'GET', route: '/users/@me', status: '200' })! >= 1);
    assert.ok(value(samples, 'arbiter_discord_requests_total', { method: 'PUT', route: '/guilds/:id/members/:id' })! >= 1);
    for (const s of find(samples, 'arbiter_discord_requests_total')) {
      assert.doesNotMatch(s.labels.route!, /\d{5}|:param/, `a raw ID or an unknown segment in ${s.labels.route}`);
    }
  });

  test('HTTP latency by route pattern; never a raw path, so never a link token', () => {
    const routes = new Set(find(samples, 'arbiter_http_request_duration_seconds_count').map((s) => s.labels.route!));
    for (const route of ['/link/:token', '/auth/callback', '/linked', '/webhook/billing', '/static', '/admin/*', 'unmatched']) {
      assert.ok(routes.has(route), `${route} in ${[...routes].join(', ')}`);
    }
    for (const route of routes) assert.match(route, /^(unmatched|\/[a-z0-9/:@._-]*(\/\*)?)$/, route);
    assert.equal(text.includes(user.id), false, 'a Discord ID is in /metrics');
    assert.equal(value(samples, 'arbiter_http_request_duration_seconds_count', { method: 'GET', route: '/link/:token', status: '410' }), 1);
    assert.equal(value(samples, 'arbiter_http_request_duration_seconds_count', { method: 'POST', route: '/webhook/billing', status: '401' }), 2);
    assert.equal(value(samples, 'arbiter_http_request_duration_seconds_count', { route: 'unmatched', status: '404' }), 1);
    assert.ok(find(samples, 'arbiter_http_request_duration_seconds_bucket', { route: '/auth/callback', le: '+Inf' }).length > 0);
    assert.equal(text.includes(linkToken), false, 'the link token is in /metrics');
    assert.equal(text.includes(code), false, 'the OAuth code is in /metrics');
  });

  test('build info and the process metrics', () => {
    assert.equal(value(samples, 'arbiter_build_info', { version: '2.0.0', node: process.version }), 1);
    assert.ok(find(samples, 'process_cpu_user_seconds_total').length === 1);
    assert.ok(find(samples, 'nodejs_heap_size_used_bytes').length === 1);
    assert.ok(find(samples, 'nodejs_eventloop_lag_seconds').length === 1);
  });

  test('from elsewhere only with METRICS_TOKEN as a bearer token; refusals say how to get access', async () => {
    const refused = await fetch(`${w.app.url}/metrics`, { headers: REMOTE });
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as { error: { code: string; message: string; details: unknown } };
    assert.equal(body.error.code, 'forbidden');
    assert.match(body.error.message, /METRICS_TOKEN/);
    assert.match(body.error.message, /Authorization: Bearer/);
    assert.equal(body.error.details, null);
    assert.equal(refused.headers.get('set-cookie'), null);
    for (const authorization of [`Bearer ${token.slice(0, -1)}`, `Bearer ${token}x`, token, `Basic ${token}`, 'Bearer ']) {
      const wrong = await scrape(w.app.url, { ...REMOTE, Authorization: authorization });
      assert.equal(wrong.status, 403, authorization);
      assert.doesNotMatch(wrong.text, /arbiter_/);
    }
    const allowed = await scrape(w.app.url, { ...REMOTE, Authorization: `Bearer ${token}` });
    assert.equal(allowed.status, 200);
    assert.match(allowed.text, /^arbiter_webhooks_total\{outcome="accepted"\} 1$/m);
    const after = parseSamples((await scrape(w.app.url)).text);
    assert.equal(value(after, 'arbiter_http_request_duration_seconds_count', { route: '/metrics', status: '403' }), 6);
  });
});

test('without METRICS_TOKEN a remote request is always refused; the job gauges read the queue at each scrape', async (t) => {
  const dir = tempDir();
  const app = await startTestServer(testConfig(dir.path, { TRUST_PROXY: '1' }));
  t.after(async () => {
    await app.stop();
    dir.remove();
  });
  for (const authorization of [undefined, 'Bearer ', `Bearer ${'x'.repeat(40)}`]) {
    const res = await scrape(app.url, { ...REMOTE, ...(authorization === undefined ? {} : { Authorization: authorization }) });
    assert.equal(res.status, 403, String(authorization));
  }

  // Each app has its own registry: nothing from another app in this process shows here.
  const fresh = parseSamples((await scrape(app.url)).text);
  assert.equal(value(fresh, 'arbiter_webhooks_total'), 0);
  assert.equal(value(fresh, 'arbiter_webhooks_total', { outcome: 'bad_signature' }), 0);
  assert.equal(value(fresh, 'arbiter_jobs', { kind: 'link_email', state: 'pending' }), 0);

  // The worker is stopped, so what is due stays due.
  await app.services.worker.stop();
  const now = Date.now();
  app.services.jobs.enqueue('link_email', 'late', {}, { runAt: new Date(now - 90_000) });
  app.services.jobs.enqueue('link_email', 'later', {}, { runAt: new Date(now - 30_000) });
  app.services.jobs.enqueue('link_email', 'future', {}, { runAt: new Date(now + 3_600_000) });
  const doomed = app.services.jobs.enqueue('link_email', 'doomed', {}, { runAt: new Date(now + 3_600_000) });
  app.services.jobs.fail(doomed, 'email_failed: refused', null);

  const samples = parseSamples((await scrape(app.url)).text);
  assert.equal(value(samples, 'arbiter_jobs', { kind: 'link_email', state: 'pending' }), 3);
  assert.equal(value(samples, 'arbiter_jobs', { kind: 'link_email', state: 'dead' }), 1);
  assert.equal(value(samples, 'arbiter_jobs', { kind: 'link_email', state: 'running' }), 0);
  const age = value(samples, 'arbiter_job_oldest_pending_seconds', { kind: 'link_email' })!;
  assert.ok(age >= 90 && age < 3600, `oldest due job is ${age} s old`);

  // A database that does not answer empties the job gauges; the rest is still served.
  app.services.db.close();
  const down = await scrape(app.url);
  assert.equal(down.status, 200);
  assert.equal(find(parseSamples(down.text), 'arbiter_jobs').length, 0);
  assert.match(down.text, /^arbiter_build_info\{/m);
});
