import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createAuditLog } from '../../src/audit/log.js';
import { systemClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/open.js';
import { ArbiterError } from '../../src/errors.js';
import { createJobQueue } from '../../src/jobs/queue.js';
import { createWorker, retryDelay, type JobHandler } from '../../src/jobs/worker.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../support/config.js';
import { until } from '../support/server.js';

function setup(handlers: Record<string, JobHandler>, pollMs = 50) {
  const dir = tempDir();
  const file = join(dir.path, 'arbiter.db');
  const db = openDatabase(file);
  const queue = createJobQueue(db, systemClock);
  const audit = createAuditLog(db, systemClock);
  const worker = createWorker({ queue, handlers, log: silentLogger(), clock: systemClock, audit, baseDelayMs: 10, maxDelayMs: 40, pollMs });
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

test('a failing job is retried with backoff, then dead-lettered and audited after max attempts', async (t) => {
  let calls = 0;
  const s = setup({ flaky: async () => { calls++; throw new Error('still broken'); } });
  t.after(s.close);
  s.queue.enqueue('flaky', 'a', {}, { maxAttempts: 3 });
  s.worker.start();
  const job = await until(() => s.queue.dead()[0], 5000, 'dead job');
  assert.equal(calls, 3);
  assert.equal(job.attempts, 3);
  assert.match(job.last_error ?? '', /still broken/);
  assert.equal(s.audit.list({ action: 'job.dead' }).length, 1);
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
  }, 600_000);
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
