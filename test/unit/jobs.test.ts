import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createAuditLog } from '../../src/audit/log.js';
import { systemClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/open.js';
import { ArbiterError } from '../../src/errors.js';
import { createJobQueue, RETRY_BUDGET_MS } from '../../src/jobs/queue.js';
import { createWorker, retryDelay, type JobHandler, type JobKind } from '../../src/jobs/worker.js';
import { silentLogger } from '../../src/log.js';
import type { Clock } from '../../src/clock.js';
import { testClock } from '../support/clock.js';
import { tempDir } from '../support/config.js';
import { until } from '../support/server.js';

interface SetupOptions {
  pollMs?: number;
  clock?: Clock;
  lanes?: Record<string, number>;
}

/** Handlers given as plain functions each get a lane of their own. */
function setup(handlers: Record<string, JobHandler | JobKind>, options: SetupOptions = {}) {
  const dir = tempDir();
  const file = join(dir.path, 'arbiter.db');
  const db = openDatabase(file);
  const clock = options.clock ?? systemClock;
  const queue = createJobQueue(db, clock);
  const audit = createAuditLog(db, clock);
  const kinds = Object.fromEntries(
    Object.entries(handlers).map(([kind, h]) => [kind, typeof h === 'function' ? { lane: kind, run: h } : h]),
  );
  const worker = createWorker({ queue, kinds, lanes: options.lanes, log: silentLogger(), clock, audit, baseDelayMs: 10, maxDelayMs: 40, pollMs: options.pollMs ?? 50 });
  return { dir, file, db, queue, audit, worker, close: async () => { await worker.stop(); db.close(); dir.remove(); } };
}

test('retry delays grow exponentially, are capped, and carry +-25 % jitter', () => {
  assert.equal(retryDelay(1, 1000, 60_000, () => 0.5), 1000);
  assert.equal(retryDelay(4, 1000, 60_000, () => 0.5), 8000);
  assert.equal(retryDelay(20, 1000, 60_000, () => 0.5), 60_000);
  assert.equal(retryDelay(3, 1000, 60_000, () => 0), 3000);
  assert.equal(retryDelay(3, 1000, 60_000, () => 1), 5000);
});

test('one pending job per (kind, key): enqueueing again refreshes it', async (t) => {
  const s = setup({});
  t.after(s.close);
  s.queue.enqueue('x', 'k', { n: 1 });
  s.queue.enqueue('x', 'k', { n: 2 });
  s.queue.enqueue('x', 'other', { n: 3 });
  const rows = s.db.prepare('SELECT key, payload FROM jobs ORDER BY id').all();
  assert.deepEqual(rows, [{ key: 'k', payload: '{"n":2}' }, { key: 'other', payload: '{"n":3}' }]);
});

test('a failing job is retried with backoff for its time budget, then dead-lettered and audited', async (t) => {
  const clock = testClock();
  let calls = 0;
  const s = setup({ flaky: async () => { calls++; clock.advance(20 * 60_000); throw new Error('still broken'); } }, { clock });
  t.after(s.close);
  s.queue.enqueue('flaky', 'a', {}, { budgetMs: 2 * 3_600_000 });
  s.worker.start();
  const job = await until(() => s.queue.dead()[0], 5000, 'dead job');
  // Each attempt takes 20 minutes of the two hours; the sixth ends at the deadline.
  assert.equal(calls, 6);
  assert.equal(job.attempts, 6);
  assert.match(job.last_error ?? '', /still broken/);
  assert.equal(s.audit.list({ action: 'job.dead' }).length, 1);
});

test('an outage longer than many backoff steps does not kill a job: the budget is days, not a count', async (t) => {
  const clock = testClock();
  let down = true;
  let calls = 0;
  const s = setup({
    mail: async () => {
      calls++;
      // Each failure costs an hour of the clock, the longest backoff step.
      if (down) { clock.advance(3_600_000); throw new ArbiterError('email_failed', 'connection refused', { retryable: true }); }
    },
  }, { clock });
  t.after(s.close);
  s.queue.enqueue('mail', 'a');
  s.worker.start();
  await until(() => calls >= 30, 10_000, '30 failed attempts');
  down = false;
  await until(() => s.queue.counts().done === 1, 5000, 'delivered after the outage');
  assert.equal(s.queue.counts().dead, 0);
  assert.ok(RETRY_BUDGET_MS >= 3 * 86_400_000);
});

test('keepPayload: a new request merged into a pending job keeps its saved progress', async (t) => {
  const s = setup({});
  t.after(s.close);
  s.queue.enqueue('sweep', 'guild', { after: '123' });
  s.queue.enqueue('sweep', 'guild', {}, { keepPayload: true });
  assert.equal(s.db.prepare(`SELECT payload FROM jobs WHERE key = 'guild'`).pluck().get(), '{"after":"123"}');
  s.queue.enqueue('sweep', 'guild', {});
  assert.equal(s.db.prepare(`SELECT payload FROM jobs WHERE key = 'guild'`).pluck().get(), '{}');
});

test('a new enqueue merged into a pending job starts a fresh budget', async (t) => {
  const clock = testClock();
  const s = setup({}, { clock });
  t.after(s.close);
  s.queue.enqueue('x', 'k', {}, { budgetMs: 60_000 });
  const first = s.db.prepare(`SELECT give_up_at FROM jobs WHERE key = 'k'`).pluck().get() as string;
  clock.advance(30_000);
  s.queue.enqueue('x', 'k');
  const second = s.db.prepare(`SELECT give_up_at FROM jobs WHERE key = 'k'`).pluck().get() as string;
  // The budget now runs from the second enqueue, with the default length.
  const gained = new Date(second).getTime() - new Date(first).getTime();
  const expected = 30_000 + RETRY_BUDGET_MS - 60_000;
  assert.ok(gained >= expected && gained < expected + 5_000, `budget moved by ${gained} ms`);
});

test('a non-retryable error dead-letters at once; a later success completes', async (t) => {
  let n = 0;
  const s = setup({
    fatal: async () => { throw new ArbiterError('discord_missing_permissions', 'no Manage Roles'); },
    later: async () => { if (++n < 2) throw new ArbiterError('discord_unavailable', 'down', { retryable: true }); },
  });
  t.after(s.close);
  s.queue.enqueue('fatal', 'a');
  s.queue.enqueue('later', 'b');
  s.worker.start();
  await until(() => s.queue.counts().done === 1 && s.queue.counts().dead === 1, 5000, 'both settled');
  assert.equal(s.queue.dead()[0]!.attempts, 1);
  assert.equal(n, 2);
});

test('jobs of kinds without a handler wait untouched', async (t) => {
  const s = setup({ known: async () => undefined });
  t.after(s.close);
  s.queue.enqueue('unknown', 'a');
  s.queue.enqueue('known', 'b');
  s.worker.start();
  await s.worker.idle();
  assert.deepEqual(s.db.prepare('SELECT kind, status, attempts FROM jobs ORDER BY id').all(), [
    { kind: 'unknown', status: 'pending', attempts: 0 },
    { kind: 'known', status: 'done', attempts: 1 },
  ]);
});

test('a job left running by a crash runs again after restart', async (t) => {
  const ran: string[] = [];
  const s = setup({ work: async (p) => void ran.push((p as { v: string }).v) });
  t.after(s.close);
  s.queue.enqueue('work', 'a', { v: 'first' });
  const claimed = s.queue.claim(['work']);
  assert.equal(claimed?.status, 'running');
  // The process dies here; a new worker on the same database starts.
  s.worker.start();
  await until(() => ran.length === 1, 5000, 'recovered job');
  assert.deepEqual(ran, ['first']);
  assert.equal(s.queue.get(claimed!.id)?.status, 'done');
});

test('the worker is woken by enqueue, not only by polling, and never runs the same key twice at once', async (t) => {
  let running = 0;
  let maxSame = 0;
  const s = setup({
    slow: async () => {
      running++;
      maxSame = Math.max(maxSame, running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
    },
  }, { pollMs: 600_000 });
  t.after(s.close);
  s.worker.start();
  // With a ten-minute poll, only the wake-up on enqueue can finish this in time.
  s.queue.enqueue('slow', 'same');
  await until(() => s.queue.counts().done === 1, 3000, 'woken worker');
  s.queue.enqueue('slow', 'same');
  await new Promise((r) => setTimeout(r, 5));
  s.queue.enqueue('slow', 'same');
  await until(() => s.queue.counts().pending === 0 && s.queue.counts().running === 0, 2000);
  assert.equal(maxSame, 1);
});

test('a job that keeps taking the process down is dead-lettered after three interrupted runs', async (t) => {
  let ran = 0;
  const s = setup({ crashy: async () => void ran++ });
  t.after(s.close);
  s.queue.enqueue('crashy', 'a');
  // Claimed, and the process dies while it runs; twice, then a third time before a new worker starts.
  for (let i = 0; i < 2; i++) {
    assert.ok(s.queue.claim(['crashy']));
    assert.equal(s.queue.recover().requeued, 1);
  }
  assert.ok(s.queue.claim(['crashy']));
  s.worker.start();
  await s.worker.idle();
  assert.equal(ran, 0);
  const job = s.db.prepare(`SELECT status, attempts, last_error FROM jobs WHERE key = 'a'`).get() as { status: string; attempts: number; last_error: string };
  assert.equal(job.status, 'dead');
  assert.equal(job.attempts, 3);
  assert.match(job.last_error, /interrupted 3 times/);
  assert.equal(s.audit.list({ action: 'job.dead' }).length, 1);
});

test('a database error while recording a failure neither crashes the process nor loses the job', async (t) => {
  let n = 0;
  const s = setup({ fatal: async () => { n++; throw new ArbiterError('discord_missing_permissions', 'no Manage Roles'); } });
  t.after(s.close);
  // The disk refuses to record the dead letter for a while.
  s.db.exec(`CREATE TRIGGER refuse_dead BEFORE UPDATE OF status ON jobs WHEN NEW.status = 'dead'
    BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => void process.off('unhandledRejection', onUnhandled));
  s.queue.enqueue('fatal', 'a');
  s.worker.start();
  await until(() => n === 1, 5000, 'the job ran');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(unhandled, []);
  assert.equal(s.queue.counts().dead, 0);
  s.db.exec('DROP TRIGGER refuse_dead');
  // Once the disk takes writes again, the outcome is recorded; the job does not run a second time.
  await until(() => s.queue.counts().dead === 1, 5000, 'dead letter recorded');
  assert.equal(n, 1);
  assert.equal(s.audit.list({ action: 'job.dead' }).length, 1);
});

test('lanes: a backlog of one kind of work does not hold up another', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const order: string[] = [];
  const s = setup({
    reconcile: { lane: 'discord', run: async (p) => { await gate; order.push(`reconcile ${(p as { n: number }).n}`); } },
    link_email: { lane: 'email', run: async () => void order.push('email') },
  }, { lanes: { discord: 2, email: 2 } });
  t.after(async () => { release(); await s.close(); });
  for (let n = 0; n < 20; n++) s.queue.enqueue('reconcile', `u${n}`, { n });
  s.queue.enqueue('link_email', 'sub');
  s.worker.start();
  await until(() => order.includes('email'), 5000, 'email sent while the reconcile backlog waits');
  assert.deepEqual(order, ['email']);
  release();
  await until(() => s.queue.counts().done === 21, 5000, 'backlog done');
});

test('a lane-wide wait (rate limit) defers the job without counting an attempt and pauses its lane', async (t) => {
  const clock = testClock();
  const ran: string[] = [];
  let limited = true;
  const s = setup({
    reconcile: {
      lane: 'discord',
      run: async (p) => {
        const { who } = p as { who: string };
        ran.push(who);
        if (limited) {
          limited = false;
          throw new ArbiterError('discord_rate_limited', 'bucket empty', { retryable: true, retryAfterMs: 60_000, pauseLane: true });
        }
      },
    },
    link_email: { lane: 'email', run: async () => void ran.push('email') },
  }, { clock, lanes: { discord: 1, email: 1 } });
  t.after(s.close);
  s.queue.enqueue('reconcile', 'a', { who: 'a' });
  s.queue.enqueue('reconcile', 'b', { who: 'b' });
  s.worker.start();
  await until(() => ran.includes('a'), 5000, 'first job ran');
  s.queue.enqueue('link_email', 'x');
  await until(() => ran.includes('email'), 5000, 'other lanes go on');
  await new Promise((r) => setTimeout(r, 200));
  // Nobody else in the paused lane was tried: no spinning through the queue.
  assert.deepEqual(ran, ['a', 'email']);
  const a = s.db.prepare(`SELECT status, attempts FROM jobs WHERE key = 'a'`).get();
  assert.deepEqual(a, { status: 'pending', attempts: 0 });
  clock.advance(61_000);
  await until(() => s.queue.counts().done === 3, 5000, 'lane resumed');
  assert.equal(s.queue.counts().dead, 0);
});

test('a lane with every slot taken waits for a slot to free, rather than reading the queue over and over', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'arbiter.db'));
  const queue = createJobQueue(db, systemClock);
  let looks = 0;
  const counted = { ...queue, nextRunAt: (kinds: readonly string[]) => (looks++, queue.nextRunAt(kinds)) };
  const worker = createWorker({
    queue: counted,
    kinds: { reconcile: { lane: 'discord', run: async () => gate } },
    lanes: { discord: 1 },
    log: silentLogger(),
    clock: systemClock,
    audit: createAuditLog(db, systemClock),
    pollMs: 600_000,
  });
  t.after(async () => { release(); await worker.stop(); db.close(); dir.remove(); });
  queue.enqueue('reconcile', 'a');
  queue.enqueue('reconcile', 'b');
  worker.start();
  await until(() => queue.counts().running === 1, 5000, 'the only slot taken');
  const before = looks;
  await new Promise((r) => setTimeout(r, 200));
  // Job b is due all along; the end of job a is what lets it run.
  assert.ok(looks - before <= 2, `the queue was read ${looks - before} times while the only slot was taken`);
  release();
  await until(() => queue.counts().done === 2, 5000, 'both done');
});
