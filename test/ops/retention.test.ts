import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listDeadJobs, listInvalidDeliveries } from '../../src/admin/failed.js';
import { isArbiterError } from '../../src/errors.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { prune, PRUNE_JOB } from '../../src/ops/prune.js';
import { createServices, type Services } from '../../src/services.js';
import { failedPage } from '../../src/views/admin/failed.js';
import { arbiter } from '../support/cli.js';
import { testClock, type TestClock } from '../support/clock.js';
import { tempDir, testConfig, WEBHOOK_SECRET, type TempDir } from '../support/config.js';
import { dumpDatabase } from '../support/data-dir.js';
import { startTestServer, until } from '../support/server.js';
import { eventBody, legacyHeaders, postWebhook, standardHeaders } from '../support/webhooks.js';

const DAY = 86_400_000;
const EMAIL = 'old.reader@example.com';

/** The CLI's environment for a data dir made by testConfig. */
function cliEnv(dir: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATA_DIR: join(dir, 'data'),
    ROLES_FILE: join(dir, 'roles.json'),
    WEBHOOK_SECRET,
    SESSION_SECRET: 'test-session-secret-0123456789abcdef0123456789',
    LOG_LEVEL: 'silent',
  };
}

/**
 * Rows of every age, written through the stores with the clock set back, and what prune must do to each. Link
 * tokens last 24 h (LINK_TTL_HOURS); each new one for a subscription revokes the one before.
 */
function seed(services: Services, clock: TestClock) {
  const at = <T>(daysAgo: number, write: () => T): T => {
    clock.advance(-daysAgo * DAY);
    try {
      return write();
    } finally {
      clock.advance(daysAgo * DAY);
    }
  };
  const { subscriptions, tokens, jobs, webhookEvents, audit } = services;
  for (const id of ['sub_a', 'sub_b', 'sub_c', 'sub_d']) {
    const now = clock.now().toISOString();
    subscriptions.save({ subscription_id: id, email: EMAIL, name: 'Old Reader', tier: 'awakened', status: 'active', last_event_at: now, updated_at: now });
  }
  const issue = (sub: string, daysAgo: number) => at(daysAgo, () => tokens.issue(sub).token);
  const use = (token: string, daysAgo: number) => at(daysAgo, () => tokens.spend(token, '700000000000000001'));
  const tokenId = (token: string) => tokens.check(token).row!.id;

  const a1 = issue('sub_a', 20); // expired 19 days ago
  const a2 = issue('sub_a', 12);
  use(a2, 11.5); // used 11.5 days ago
  const a3 = issue('sub_a', 3);
  use(a3, 2.5);
  const b1 = issue('sub_b', 8.5); // expired 7.5 days ago
  const b2 = issue('sub_b', 7.5); // expired 6.5 days ago
  const b3 = issue('sub_b', 7.2);
  const c1 = issue('sub_c', 30); // the only link of sub_c, expired long ago: kept to show "expired"
  const d1 = issue('sub_d', 0);

  const job = (kind: string, daysAgo: number, end: 'done' | 'dead' | 'running' | 'pending') =>
    at(daysAgo, () => {
      const id = jobs.enqueue(kind, `key_${kind}`, { subscriptionId: 'sub_a' });
      if (end === 'pending') return id;
      assert.equal(jobs.claim([kind])?.id, id);
      if (end === 'done') jobs.complete(id);
      if (end === 'dead') jobs.fail(id, 'failed for good', null);
      return id;
    });
  const j1 = job('t_done_old', 31, 'done');
  const j2 = job('t_done_recent', 29, 'done');
  const j3 = job('t_dead_old', 31, 'dead');
  const j4 = job('t_dead_recent', 29, 'dead');
  const j5 = job('t_pending_old', 40, 'pending');
  const j6 = job('t_running_old', 40, 'running');

  const delivery = (daysAgo: number, row: { delivery_id: string; dedupe: 'webhook-id' | 'event-id' | 'body-sha256'; outcome: 'applied' | 'stale' | 'invalid'; errors?: string[] }) => {
    const receivedAt = new Date(clock.now().getTime() - daysAgo * DAY).toISOString();
    return webhookEvents.insert({
      delivery_id: row.delivery_id,
      dedupe: row.dedupe,
      scheme: row.dedupe === 'webhook-id' ? 'standard' : 'legacy',
      type: 'subscription.created',
      subscription_id: row.outcome === 'invalid' ? null : 'sub_a',
      payload: JSON.stringify({ event: 'subscription.created', customer_email: EMAIL, customer_name: 'Old Reader', tier: 'awakened', subscription_id: 'sub_a' }),
      received_at: receivedAt,
      occurred_at: receivedAt,
      outcome: row.outcome,
      errors: row.errors ? JSON.stringify(row.errors) : null,
    });
  };
  const w1 = delivery(91, { delivery_id: 'msg_old', dedupe: 'webhook-id', outcome: 'applied' });
  const w2 = delivery(89, { delivery_id: 'msg_recent', dedupe: 'webhook-id', outcome: 'applied' });
  const w3 = delivery(100, { delivery_id: 'sha256:0123', dedupe: 'body-sha256', outcome: 'invalid', errors: [`customer_email: "${EMAIL}" is quoted here`] });
  const w4 = delivery(95, { delivery_id: 'event:evt_old', dedupe: 'event-id', outcome: 'stale' });

  at(400, () => audit.record({ actor: 'webhook', action: 'subscription.created', email: EMAIL, subscriptionId: 'sub_a' }));

  return {
    tokensKept: [a3, b2, b3, c1, d1].map(tokenId).sort(),
    tokensGone: [a1, a2, b1],
    jobsKept: [j2, j4, j5, j6],
    jobsGone: [j1, j3],
    payloadsCleared: [w1, w3, w4],
    payloadsKept: [w2],
  };
}

describe('prune: what goes and what stays', () => {
  let dir: TempDir;
  let expected: ReturnType<typeof seed>;
  const dbFile = () => join(dir.path, 'data', 'arbiter.db');

  before(() => {
    dir = tempDir();
    const clock = testClock();
    const services = createServices(testConfig(dir.path), { clock, log: silentLogger() });
    try {
      expected = seed(services, clock);
    } finally {
      services.db.close();
    }
  });
  after(() => dir.remove());

  test('--dry-run counts what would go and changes nothing', async () => {
    const before = dumpDatabase(dbFile());
    const run = await arbiter(['prune', '--dry-run'], cliEnv(dir.path), dir.path);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Would remove 3 link tokens that expired or were used more than 7 days ago/);
    assert.match(run.stdout, /Would remove 1 done job and 1 dead job that finished more than 30 days ago/);
    assert.match(run.stdout, /Would clear the payloads of 3 webhook deliveries received more than 90 days ago \(RETENTION_DAYS\)/);
    assert.match(run.stdout, /Nothing was changed/);
    assert.deepEqual(dumpDatabase(dbFile()), before);
  });

  test('prune removes exactly the old tokens, finished jobs and payloads; audit rows and delivery rows stay', async () => {
    const before = dumpDatabase(dbFile());
    const run = await arbiter(['prune'], cliEnv(dir.path), dir.path);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Removed 3 link tokens that expired or were used more than 7 days ago/m);
    assert.match(run.stdout, /^Removed 1 done job and 1 dead job that finished more than 30 days ago/m);
    assert.match(run.stdout, /^Cleared the payloads of 3 webhook deliveries received more than 90 days ago \(RETENTION_DAYS\)/m);

    const after = dumpDatabase(dbFile());
    const ids = (rows: unknown[]) => (rows as { id: number }[]).map((r) => r.id).sort((a, b) => a - b);
    assert.deepEqual(ids(after.link_tokens!), expected.tokensKept.sort((a, b) => a - b));
    assert.deepEqual(ids(after.jobs!), expected.jobsKept.sort((a, b) => a - b));
    assert.deepEqual(after.audit_logs, before.audit_logs);
    assert.deepEqual(after.subscriptions, before.subscriptions);

    type Event = { id: number; delivery_id: string; dedupe: string; type: string; outcome: string; received_at: string; occurred_at: string; payload: string; errors: string | null; pruned_at: string | null };
    const events = new Map((after.webhook_events as Event[]).map((e) => [e.id, e]));
    const earlier = new Map((before.webhook_events as Event[]).map((e) => [e.id, e]));
    assert.equal(events.size, earlier.size, 'every delivery row stays');
    for (const id of expected.payloadsCleared) {
      const { payload, errors, pruned_at, ...kept } = events.get(id)!;
      const { payload: _p, errors: _e, pruned_at: _w, ...was } = earlier.get(id)!;
      assert.equal(payload, '{}');
      assert.equal(errors, null);
      assert.ok(pruned_at && Date.parse(pruned_at) > Date.now() - 60_000, 'pruned_at is the time of the prune');
      assert.deepEqual(kept, was, 'id, dedupe, type, outcome and times are kept');
    }
    for (const id of expected.payloadsKept) assert.deepEqual(events.get(id), earlier.get(id));
    assert.ok(!(after.webhook_events as Event[]).some((e) => e.pruned_at === null && e.id !== expected.payloadsKept[0]));

    const again = await arbiter(['prune'], cliEnv(dir.path), dir.path);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Nothing was old enough to remove/);
  });

  test('a delivery whose payload was pruned is still a duplicate when sent again; the panel says the payload was removed', async () => {
    const app = await startTestServer(testConfig(dir.path));
    try {
      const body = eventBody({ subscription_id: 'sub_a', customer_email: EMAIL });
      const named = await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body, { id: 'msg_old' }));
      assert.equal(named.status, 200);
      assert.deepEqual(named.json, { status: 'duplicate' });
      const legacyBody = eventBody({ subscription_id: 'sub_a', customer_email: EMAIL, event_id: 'evt_old' });
      const legacy = await postWebhook(app.url, legacyBody, legacyHeaders(WEBHOOK_SECRET, legacyBody));
      assert.deepEqual(legacy.json, { status: 'duplicate' });
      assert.equal(app.services.db.prepare(`SELECT COUNT(*) FROM webhook_events WHERE delivery_id IN ('msg_old', 'event:evt_old')`).pluck().get(), 2);

      const { invalid } = listInvalidDeliveries(app.services);
      const shown = invalid.rows.find((d) => d.id === expected.payloadsCleared[1]);
      assert.ok(shown?.removedAt, 'the invalid delivery is listed with the time its payload was removed');
      assert.doesNotMatch(JSON.stringify(shown), new RegExp(EMAIL));
      const page = failedPage({ admin: { id: '500000000000000001', name: 'Ada', role: 'admin' }, csrf: 'x' }, { dead: listDeadJobs(app.services), deliveries: listInvalidDeliveries(app.services) });
      assert.match(page, /removed <time[^>]*>[^<]+<\/time> \(older than RETENTION_DAYS, or the subscriber was erased\)/);
      assert.doesNotMatch(page, new RegExp(EMAIL));
    } finally {
      await app.stop();
    }
  });
});

test('prune in small batches comes to the same counts, and a second run finds nothing', async () => {
  const dir = tempDir();
  const clock = testClock();
  const services = createServices(testConfig(dir.path), { clock, log: silentLogger() });
  try {
    seed(services, clock);
    const dry = await prune(services, { dryRun: true });
    const done = await prune(services, { batchSize: 2 });
    const counts = { linkTokens: 3, doneJobs: 1, deadJobs: 1, webhookPayloads: 3, oidcState: 0 };
    assert.deepEqual(dry.counts, counts);
    assert.deepEqual(done.counts, counts);
    assert.deepEqual((await prune(services, { batchSize: 2 })).counts, { linkTokens: 0, doneJobs: 0, deadJobs: 0, webhookPayloads: 0, oidcState: 0 });
  } finally {
    services.db.close();
    dir.remove();
  }
});

test('Arbiter queues the daily prune a few minutes after start, runs it, and logs the counts in one line', async () => {
  const dir = tempDir();
  const clock = testClock();
  const lines: string[] = [];
  const log = createLogger('info', new Writable({ write: (chunk: Buffer, _enc, done) => void (lines.push(chunk.toString()), done()) }));
  const started = clock.now().getTime();
  const app = await startTestServer(testConfig(dir.path), { clock, log });
  try {
    const queued = app.services.db.prepare(`SELECT * FROM jobs WHERE kind = ? AND status = 'pending'`).all(PRUNE_JOB) as { id: number; run_at: string }[];
    assert.equal(queued.length, 1);
    const due = Date.parse(queued[0]!.run_at) - started;
    assert.ok(due >= 4 * 60_000 && due <= 6 * 60_000, `first prune due in ${due} ms`);

    // A job that finished 40 days ago, written with the clock set back.
    clock.advance(-40 * DAY);
    const old = app.services.jobs.enqueue('t_done_old', 'x');
    app.services.jobs.claim(['t_done_old']);
    app.services.jobs.complete(old);
    clock.advance(40 * DAY);

    clock.advance(5 * 60_000 + 1_000);
    await until(() => app.services.jobs.get(queued[0]!.id)?.status === 'done', 10_000, 'the prune job to run');
    assert.equal(app.services.jobs.get(old), undefined);
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'pruned old data');
    assert.ok(line, `no prune line in:\n${lines.join('')}`);
    assert.equal(line.doneJobs, 1);
    assert.equal(line.linkTokens, 0);
    assert.equal(line.webhookPayloads, 0);
  } finally {
    await app.stop();
    dir.remove();
  }
});

test('RETENTION_DAYS: a whole number of days from 7 to 3650, 90 when unset', () => {
  const dir = tempDir();
  try {
    assert.equal(testConfig(dir.path).retentionDays, 90);
    assert.equal(testConfig(dir.path, { RETENTION_DAYS: '7' }).retentionDays, 7);
    for (const [value, message] of [['6', /RETENTION_DAYS: must be at least 7/], ['3651', /RETENTION_DAYS: must be at most 3650/], ['soon', /RETENTION_DAYS: must be a whole number/]] as const) {
      assert.throws(() => testConfig(dir.path, { RETENTION_DAYS: value }), (err) => isArbiterError(err) && message.test(err.message));
    }
  } finally {
    dir.remove();
  }
});
