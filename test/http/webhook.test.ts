import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { desiredFor } from '../../src/roles/reconcile.js';
import type { RunningServer } from '../../src/server.js';
import { TIERS, tempDir, testConfig, WEBHOOK_SECRET, type TempDir } from '../support/config.js';
import { startTestServer } from '../support/server.js';
import { startSmtp, type TestSmtp } from '../../stand-ins/smtp.js';
import { eventBody, legacyHeaders, postWebhook, standardHeaders } from '../support/webhooks.js';

/** A POST whose headers may repeat (fetch would fold them into one): each array element is its own header line. */
function postRaw(baseUrl: string, body: string, headers: Record<string, string | string[]>): Promise<{ status: number; json: { status?: string; error?: { code: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/webhook/billing`, { method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) as { status?: string; error?: { code: string } } }));
    });
    req.on('error', reject);
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.end(body);
  });
}

const wrongSignature = `v1,${Buffer.alloc(32, 9).toString('base64')}`;

describe('POST /webhook/billing', () => {
  let dir: TempDir;
  let smtp: TestSmtp;
  let app: RunningServer;
  let n = 0;
  const sub = () => `sub_${++n}`;
  // Arbiter's clock: real time, moved forward where a test needs a day to pass.
  const clock = { aheadMs: 0, now: () => new Date(Date.now() + clock.aheadMs) };

  before(async () => {
    dir = tempDir();
    smtp = await startSmtp();
    app = await startTestServer(testConfig(dir.path, { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), WEBHOOK_MAX_BYTES: '2048' }), { clock });
  });
  after(async () => {
    await app.stop();
    await smtp.close();
    dir.remove();
  });
  beforeEach(() => {
    smtp.messages.length = 0;
  });

  const events = (subscriptionId: string) =>
    app.services.db.prepare('SELECT * FROM webhook_events WHERE subscription_id = ? ORDER BY id').all(subscriptionId) as { outcome: string; errors: string | null; occurred_at: string | null }[];
  const subscription = (id: string) => app.services.subscriptions.get(id);
  const jobKinds = (key: string) => app.services.db.prepare('SELECT kind FROM jobs WHERE key = ? ORDER BY id').pluck().all(key) as string[];
  const mailsTo = (email: string) => smtp.messages.filter((m) => m.to === email).length;
  const schemes = {
    standard: (body: string) => standardHeaders(WEBHOOK_SECRET, body),
    legacy: (body: string) => legacyHeaders(WEBHOOK_SECRET, body),
  };

  test('a signed created event is accepted, stored, and emails a link; its replay is a duplicate and sends nothing more', async () => {
    const id = sub();
    const body = eventBody({ subscription_id: id, customer_email: 'Ada@Example.com' });
    const headers = standardHeaders(WEBHOOK_SECRET, body);
    const first = await postWebhook(app.url, body, headers);
    assert.equal(first.status, 200);
    assert.deepEqual(first.json, { status: 'accepted' });
    assert.equal(subscription(id)?.status, 'active');
    assert.equal(subscription(id)?.email, 'ada@example.com');

    const replay = await postWebhook(app.url, body, headers);
    assert.deepEqual([replay.status, replay.json], [200, { status: 'duplicate' }]);
    await smtp.waitFor(1);
    await app.services.worker.idle();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(smtp.messages.length, 1);
    assert.equal(smtp.messages[0]!.to, 'ada@example.com');
    assert.equal(events(id).length, 1);
  });

  test('legacy deliveries dedupe by event_id, and by body hash when there is none', async () => {
    const id = sub();
    const withId = eventBody({ subscription_id: id, event_id: `evt_${id}` });
    assert.equal((await postWebhook(app.url, withId, legacyHeaders(WEBHOOK_SECRET, withId))).json.status, 'accepted');
    assert.equal((await postWebhook(app.url, withId, legacyHeaders(WEBHOOK_SECRET, withId, false))).json.status, 'duplicate');
    const id2 = sub();
    const plain = eventBody({ subscription_id: id2 });
    assert.equal((await postWebhook(app.url, plain, legacyHeaders(WEBHOOK_SECRET, plain))).json.status, 'accepted');
    assert.equal((await postWebhook(app.url, plain, legacyHeaders(WEBHOOK_SECRET, plain))).json.status, 'duplicate');
  });

  test('an unknown event type is answered 200 "ignored" and recorded', async () => {
    const id = sub();
    const body = JSON.stringify({ event: 'invoice.paid', subscription_id: id });
    const res = await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body));
    assert.deepEqual([res.status, res.json], [200, { status: 'ignored' }]);
    assert.equal(events(id)[0]?.outcome, 'ignored');
    assert.equal(subscription(id), undefined);
  });

  test('bad signatures are 401 and change nothing', async () => {
    const id = sub();
    const body = eventBody({ subscription_id: id });
    const tampered = body.replace('Ada', 'Eve');
    const cases = [
      { headers: { 'content-type': 'application/json' }, code: 'webhook_unsigned' },
      { headers: standardHeaders(WEBHOOK_SECRET, body), body: tampered, code: 'webhook_bad_signature' },
      { headers: standardHeaders('whsec_' + Buffer.alloc(32, 1).toString('base64'), body), code: 'webhook_bad_signature' },
      { headers: standardHeaders(WEBHOOK_SECRET, body, { timestamp: Math.floor(Date.now() / 1000) - 301 }), code: 'webhook_stale' },
      { headers: legacyHeaders(WEBHOOK_SECRET, tampered), code: 'webhook_bad_signature' },
    ];
    for (const c of cases) {
      const res = await postWebhook(app.url, c.body ?? body, c.headers);
      assert.equal(res.status, 401, c.code);
      assert.equal(res.json.error?.code, c.code);
    }
    assert.equal(subscription(id), undefined);
    assert.equal(events(id).length, 0);
  });

  test('400 for a signed body that is not JSON, 415 for another content type, 413 for an oversized body', async () => {
    const garbage = '{"event": "subscription.created",';
    const bad = await postWebhook(app.url, garbage, standardHeaders(WEBHOOK_SECRET, garbage));
    assert.deepEqual([bad.status, bad.json.error?.code], [400, 'webhook_malformed']);
    const badTimestamp = { ...standardHeaders(WEBHOOK_SECRET, garbage), 'webhook-timestamp': 'yesterday' };
    assert.equal((await postWebhook(app.url, garbage, badTimestamp)).status, 400);

    const body = eventBody({ subscription_id: sub() });
    const text = await postWebhook(app.url, body, { ...standardHeaders(WEBHOOK_SECRET, body), 'content-type': 'text/plain' });
    assert.deepEqual([text.status, text.json.error?.code], [415, 'unsupported_media_type']);

    const big = eventBody({ subscription_id: sub(), customer_name: 'x'.repeat(4000) });
    const large = await postWebhook(app.url, big, standardHeaders(WEBHOOK_SECRET, big));
    assert.deepEqual([large.status, large.json.error?.code], [413, 'payload_too_large']);
  });

  test('422 for a signed but invalid payload, listing every problem; the delivery is kept as invalid', async () => {
    const id = sub();
    const body = JSON.stringify({ event: 'subscription.created', customer_email: 'not-an-email', tier: 'gold', subscription_id: id });
    const res = await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body));
    assert.equal(res.status, 422);
    assert.equal(res.json.error?.code, 'webhook_invalid');
    assert.ok(res.json.error?.details?.some((d) => d.startsWith('customer_email')));
    assert.equal(events(id)[0]?.outcome, 'invalid');
    assert.equal(subscription(id), undefined);

    const unknownTier = eventBody({ subscription_id: id, tier: 'platinum' });
    const res2 = await postWebhook(app.url, unknownTier, standardHeaders(WEBHOOK_SECRET, unknownTier));
    assert.equal(res2.status, 422);
    assert.match(res2.json.error?.details?.[0] ?? '', /platinum/);
    assert.equal(events(id).length, 2);
  });

  test('events apply by their time: an older event after a newer one does not roll the state back', async () => {
    const id = sub();
    const created = eventBody({ subscription_id: id, occurred_at: '2026-01-01T10:00:00Z' });
    const cancelled = eventBody({ subscription_id: id, event: 'subscription.cancelled', occurred_at: '2026-01-03T10:00:00Z' });
    const upgradedLate = eventBody({ subscription_id: id, event: 'subscription.upgraded', tier: 'ascended', occurred_at: '2026-01-02T10:00:00Z' });
    for (const body of [created, cancelled, upgradedLate]) {
      assert.equal((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 200);
    }
    assert.equal(subscription(id)?.status, 'cancelled');
    assert.equal(subscription(id)?.tier, 'awakened');
    assert.deepEqual(events(id).map((e) => e.outcome), ['applied', 'applied', 'stale']);
  });

  test('names with HTML are stored as given and escaped in the email', async () => {
    const id = sub();
    const body = eventBody({ subscription_id: id, customer_email: 'eve@example.com', customer_name: '<script>alert(1)</script>' });
    await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body));
    const mail = await smtp.mailTo('eve@example.com');
    assert.equal(subscription(id)?.name, '<script>alert(1)</script>');
    assert.ok(!mail.html.includes('<script>'));
    assert.ok(mail.html.includes('&lt;script'));
  });

  test('every error answer carries details, null when there is nothing more', async () => {
    const body = eventBody({ subscription_id: sub() });
    const unsigned = await postWebhook(app.url, body, { 'content-type': 'application/json' });
    const { message } = unsigned.json.error as unknown as { message: string };
    assert.equal(typeof message, 'string');
    assert.deepEqual(unsigned.json, { error: { code: 'webhook_unsigned', message, details: null } });
    const text = await postWebhook(app.url, body, { ...standardHeaders(WEBHOOK_SECRET, body), 'content-type': 'text/plain' });
    assert.deepEqual([text.status, text.json.error?.details], [415, null]);
  });

  test('a signature header that cannot be read is 400; a readable one that does not match is 401', async () => {
    const id = sub();
    const body = eventBody({ subscription_id: id });
    const std = standardHeaders(WEBHOOK_SECRET, body);
    const unreadable = [
      { ...legacyHeaders(WEBHOOK_SECRET, body), 'x-signature': 'sha256=zz' },
      { ...legacyHeaders(WEBHOOK_SECRET, body), 'x-signature': 'not a signature at all' },
      { ...std, 'webhook-signature': 'garbage' },
      { ...std, 'webhook-signature': 'v1, ,' },
      { ...std, 'webhook-id': 'has spaces in it' },
    ];
    for (const headers of unreadable) {
      const res = await postWebhook(app.url, body, headers);
      assert.deepEqual([res.status, res.json.error?.code], [400, 'webhook_malformed'], JSON.stringify(headers));
    }
    const wrong = [
      { ...std, 'webhook-signature': wrongSignature },
      { ...std, 'webhook-signature': std['webhook-signature']!.replace('v1,', 'v2,') },
      legacyHeaders(WEBHOOK_SECRET, body.replace('Ada', 'Eve')),
    ];
    for (const headers of wrong) {
      const res = await postWebhook(app.url, body, headers);
      assert.deepEqual([res.status, res.json.error?.code], [401, 'webhook_bad_signature'], JSON.stringify(headers));
    }
    assert.equal(events(id).length, 0);
  });

  test('several webhook-signature headers: one that matches is enough, in whichever order', async () => {
    for (const order of ['right first', 'wrong first', 'folded into one line']) {
      const id = sub();
      const body = eventBody({ subscription_id: id });
      const headers = standardHeaders(WEBHOOK_SECRET, body);
      const right = headers['webhook-signature']!;
      const signatures = { 'right first': [right, wrongSignature], 'wrong first': [wrongSignature, right], 'folded into one line': `${right}, ${wrongSignature}` }[order]!;
      const res = await postRaw(app.url, body, { ...headers, 'webhook-signature': signatures });
      assert.deepEqual([res.status, res.json], [200, { status: 'accepted' }], order);
      assert.equal(subscription(id)?.status, 'active', order);
    }
    const body = eventBody({ subscription_id: sub() });
    const none = await postRaw(app.url, body, { ...standardHeaders(WEBHOOK_SECRET, body), 'webhook-signature': [wrongSignature, wrongSignature] });
    assert.deepEqual([none.status, none.json.error?.code], [401, 'webhook_bad_signature']);
  });

  test('a webhook-id, webhook-timestamp or x-signature sent twice is malformed (400), even when both copies agree', async () => {
    const id = sub();
    const body = eventBody({ subscription_id: id });
    const std = standardHeaders(WEBHOOK_SECRET, body);
    const legacy = legacyHeaders(WEBHOOK_SECRET, body);
    const twice = (value: string) => [value, value];
    const cases = {
      'webhook-id': { ...std, 'webhook-id': twice(std['webhook-id']!) },
      'webhook-timestamp': { ...std, 'webhook-timestamp': twice(std['webhook-timestamp']!) },
      'x-signature': { ...legacy, 'x-signature': twice(legacy['x-signature']!) },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await postRaw(app.url, body, headers);
      assert.deepEqual([res.status, res.json.error?.code], [400, 'webhook_malformed'], name);
    }
    assert.equal(events(id).length, 0);
  });

  test('one 422 lists the payload problems and an unknown tier together', async () => {
    const id = sub();
    const body = JSON.stringify({ event: 'subscription.created', customer_email: 'not-an-email', tier: 'Platinum', subscription_id: id });
    const res = await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body));
    assert.equal(res.status, 422);
    const details = res.json.error?.details ?? [];
    assert.equal(details.length, 2, details.join('; '));
    assert.ok(details.some((d) => d.startsWith('customer_email')));
    assert.ok(details.some((d) => d.startsWith('tier') && d.includes('platinum')));
  });

  test('a payload invalid in itself is a final 422: its retry gets the same answer and is not evaluated again', async () => {
    const id = sub();
    const body = JSON.stringify({ event: 'subscription.created', customer_email: 'not-an-email', tier: 'awakened', subscription_id: id });
    const headers = standardHeaders(WEBHOOK_SECRET, body);
    const first = await postWebhook(app.url, body, headers);
    const retry = await postWebhook(app.url, body, headers);
    assert.deepEqual([retry.status, retry.json], [422, first.json]);
    assert.deepEqual(events(id).map((e) => e.outcome), ['invalid']);
  });

  test('a created that arrives after the cancel of an unknown subscription does not activate it (no occurred_at, both schemes)', async () => {
    for (const [scheme, sign] of Object.entries(schemes)) {
      const id = sub();
      const email = `late-${id}@example.com`;
      const cancelled = eventBody({ subscription_id: id, customer_email: email, event: 'subscription.cancelled' });
      const created = eventBody({ subscription_id: id, customer_email: email });
      assert.deepEqual((await postWebhook(app.url, cancelled, sign(cancelled))).json, { status: 'accepted' }, scheme);
      assert.deepEqual((await postWebhook(app.url, created, sign(created))).json, { status: 'accepted' }, scheme);
      assert.equal(subscription(id)?.status, 'cancelled', scheme);
      assert.deepEqual(jobKinds(id), [], scheme);
      assert.deepEqual(events(id).map((e) => e.outcome), ['applied', 'stale'], scheme);
    }
    await app.services.worker.idle();
    assert.equal(smtp.messages.filter((m) => m.to.startsWith('late-')).length, 0);
  });

  test('a created sent again after a cancel emails nothing and grants no role (no occurred_at, both schemes, linked or not)', async () => {
    let discordIds = 700000000000000000n;
    for (const [scheme, sign] of Object.entries(schemes)) {
      for (const linked of [false, true]) {
        const what = `${scheme}, ${linked ? 'linked' : 'not linked'}`;
        const id = sub();
        const email = `again-${id}@example.com`;
        const discordId = String(++discordIds);
        const created = eventBody({ subscription_id: id, customer_email: email });
        const cancelled = eventBody({ subscription_id: id, customer_email: email, event: 'subscription.cancelled' });
        assert.deepEqual((await postWebhook(app.url, created, sign(created))).json, { status: 'accepted' }, what);
        await smtp.mailTo(email);
        if (linked) app.services.subscriptions.link(id, discordId, new Date().toISOString());
        assert.deepEqual((await postWebhook(app.url, cancelled, sign(cancelled))).json, { status: 'accepted' }, what);
        // Sent again as a new delivery: a new webhook-id, or for a legacy body without event_id, after its hash's 24 h.
        if (scheme === 'legacy') clock.aheadMs = 25 * 3_600_000;
        let again;
        try {
          again = await postWebhook(app.url, created, sign(created));
        } finally {
          clock.aheadMs = 0;
        }
        assert.deepEqual(again.json, { status: 'accepted' }, what);
        assert.equal(subscription(id)?.status, 'cancelled', what);
        assert.deepEqual(events(id).map((e) => e.outcome), ['applied', 'applied', 'stale'], what);
        assert.deepEqual(jobKinds(id), ['link_email'], what);
        assert.deepEqual([...desiredFor(app.services, discordId)], [], what);
        await app.services.worker.idle();
        assert.equal(mailsTo(email), 1, what);
      }
    }
  });

  test('only resumed makes a cancelled subscription active again, and then a link is emailed', async () => {
    const id = sub();
    const email = `resumed-${id}@example.com`;
    for (const event of ['subscription.cancelled', 'subscription.created', 'subscription.resumed']) {
      const body = eventBody({ subscription_id: id, customer_email: email, event });
      assert.deepEqual((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).json, { status: 'accepted' }, event);
    }
    assert.deepEqual(events(id).map((e) => e.outcome), ['applied', 'stale', 'applied']);
    assert.equal(subscription(id)?.status, 'active');
    assert.deepEqual(jobKinds(id), ['link_email']);
    await smtp.mailTo(email);
  });

  test('an occurred_at far in the future does not freeze the subscription: a later cancel applies', async () => {
    for (const cancelHasTime of [false, true]) {
      const id = sub();
      const future = new Date(Date.now() + 24 * 3_600_000).toISOString();
      const created = eventBody({ subscription_id: id, occurred_at: future });
      assert.deepEqual((await postWebhook(app.url, created, standardHeaders(WEBHOOK_SECRET, created))).json, { status: 'accepted' });
      const cancelled = eventBody({ subscription_id: id, event: 'subscription.cancelled', ...(cancelHasTime ? { occurred_at: new Date().toISOString() } : {}) });
      assert.deepEqual((await postWebhook(app.url, cancelled, standardHeaders(WEBHOOK_SECRET, cancelled))).json, { status: 'accepted' });
      assert.equal(subscription(id)?.status, 'cancelled', `cancel ${cancelHasTime ? 'with' : 'without'} occurred_at`);
      assert.deepEqual(events(id).map((e) => e.outcome), ['applied', 'applied']);
      assert.ok(events(id)[0]!.occurred_at! < future, 'the time kept is the arrival, not the one sent');
    }
  });
});

describe('a delivery refused for a configuration reason is evaluated again when retried', () => {
  test('an unknown tier is 422 until roles.json names it; after a restart on the same data the same delivery is accepted', async () => {
    const dir = tempDir();
    let app = await startTestServer(testConfig(dir.path));
    try {
      const bodies = {
        standard: eventBody({ subscription_id: 'sub_platinum_s', tier: 'platinum' }),
        legacy: eventBody({ subscription_id: 'sub_platinum_l', tier: 'platinum' }),
      };
      const headers = { standard: standardHeaders(WEBHOOK_SECRET, bodies.standard), legacy: legacyHeaders(WEBHOOK_SECRET, bodies.legacy) };
      for (const scheme of ['standard', 'legacy'] as const) {
        for (let attempt = 1; attempt <= 2; attempt++) {
          const res = await postWebhook(app.url, bodies[scheme], headers[scheme]);
          assert.equal(res.status, 422, `${scheme} attempt ${attempt}`);
          assert.match(res.json.error?.details?.[0] ?? '', /platinum/);
        }
      }
      await app.stop();
      app = await startTestServer(testConfig(dir.path, {}, { ...TIERS, platinum: ['1100000000000000003'] }));
      for (const scheme of ['standard', 'legacy'] as const) {
        const res = await postWebhook(app.url, bodies[scheme], headers[scheme]);
        assert.deepEqual([res.status, res.json], [200, { status: 'accepted' }], scheme);
        assert.deepEqual((await postWebhook(app.url, bodies[scheme], headers[scheme])).json, { status: 'duplicate' }, scheme);
      }
      const outcomes = app.services.db.prepare(`SELECT outcome FROM webhook_events WHERE subscription_id = ? ORDER BY id`).pluck();
      assert.deepEqual(outcomes.all('sub_platinum_s'), ['refused', 'refused', 'applied']);
      assert.deepEqual(outcomes.all('sub_platinum_l'), ['refused', 'refused', 'applied']);
      assert.equal(app.services.subscriptions.get('sub_platinum_s')?.tier, 'platinum');
    } finally {
      await app.stop();
      dir.remove();
    }
  });
});

describe('the webhook rate limit counts failed signatures only', () => {
  async function withServer(run: (app: RunningServer) => Promise<void>) {
    const dir = tempDir();
    const app = await startTestServer(testConfig(dir.path));
    try {
      await run(app);
    } finally {
      await app.stop();
      dir.remove();
    }
  }

  test('a sender who got many 422s can still deliver valid events', () =>
    withServer(async (app) => {
      for (let i = 0; i < 130; i++) {
        const body = JSON.stringify({ event: 'subscription.created', subscription_id: `sub_incomplete_${i}` });
        assert.equal((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 422, `delivery ${i}`);
      }
      const body = eventBody({ subscription_id: 'sub_after_422s' });
      assert.deepEqual((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).json, { status: 'accepted' });
    }));

  test('after many failed signatures the next failure is 429, but a signed delivery from the same address is accepted', () =>
    withServer(async (app) => {
      const forged = 'whsec_' + Buffer.alloc(32, 3).toString('base64');
      const statuses = new Set<number>();
      for (let i = 0; i < 130; i++) {
        const body = eventBody({ subscription_id: `sub_forged_${i}` });
        statuses.add((await postWebhook(app.url, body, standardHeaders(forged, body))).status);
      }
      assert.deepEqual([...statuses].sort(), [401, 429]);
      const body = eventBody({ subscription_id: 'sub_signed' });
      assert.deepEqual((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).json, { status: 'accepted' });
      assert.deepEqual((await postWebhook(app.url, body, legacyHeaders(WEBHOOK_SECRET, body))).json, { status: 'accepted' });
    }));
});
