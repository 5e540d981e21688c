import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAuditLog } from '../../src/audit/log.js';
import { systemClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/open.js';
import { ArbiterError } from '../../src/errors.js';
import { createJobQueue } from '../../src/jobs/queue.js';
import { createWorker } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { tempDir } from '../support/config.js';
import { parseSamples, value } from '../support/prometheus.js';

test('each job outcome is one log line with the job id, kind, outcome and attempts, and is counted', async (t) => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'arbiter.db'));
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }));
  const queue = createJobQueue(db, systemClock);
  const metrics = createMetrics({ version: 'test', clock: systemClock, jobs: { kinds: () => ['flaky', 'fine', 'doomed', 'waits'], backlog: () => queue.backlog() } });
  let flakyRuns = 0;
  let waitsRuns = 0;
  const worker = createWorker({
    queue,
    kinds: {
      fine: { lane: 'a', run: async () => undefined },
      flaky: {
        lane: 'b',
        run: async () => {
          if (++flakyRuns === 1) throw new Error('the server hung up');
        },
      },
      doomed: { lane: 'c', run: async () => { throw new ArbiterError('email_failed', 'email not sent: 550 no such user'); } },
      waits: {
        lane: 'd',
        run: async () => {
          if (++waitsRuns === 1) throw new ArbiterError('discord_rate_limited', 'rate limited', { retryable: true, pauseLane: true, retryAfterMs: 20 });
        },
      },
    },
    log,
    clock: systemClock,
    audit: createAuditLog(db, systemClock),
    metrics,
    baseDelayMs: 10,
    maxDelayMs: 20,
    pollMs: 20,
  });
  t.after(async () => {
    await worker.stop();
    db.close();
    dir.remove();
  });
  const secret = 'payload-secret-value-0123456789';
  const ids = Object.fromEntries(['fine', 'flaky', 'doomed', 'waits'].map((kind) => [kind, queue.enqueue(kind, 'k', { secret })]));
  worker.start();
  for (;;) {
    await worker.idle();
    if (flakyRuns >= 2 && waitsRuns >= 2) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  const outcomes = (kind: string) => lines.filter((l) => l.kind === kind && typeof l.outcome === 'string');
  const expect = (kind: string, want: { outcome: string; level: string; attempts: number; error?: RegExp }[]) => {
    const got = outcomes(kind);
    assert.equal(got.length, want.length, `${kind}: ${JSON.stringify(got)}`);
    want.forEach((w, i) => {
      const line = got[i]!;
      assert.equal(line.job, ids[kind]);
      assert.equal(line.outcome, w.outcome);
      assert.equal(line.level, w.level);
      assert.equal(line.attempts, w.attempts);
      if (w.error) assert.match(String(line.error), w.error);
    });
  };
  expect('fine', [{ outcome: 'done', level: 'info', attempts: 1 }]);
  expect('flaky', [
    { outcome: 'retry', level: 'warn', attempts: 1, error: /the server hung up/ },
    { outcome: 'done', level: 'info', attempts: 2 },
  ]);
  expect('doomed', [{ outcome: 'dead', level: 'error', attempts: 1, error: /550 no such user/ }]);
  // A wait does not spend the attempt.
  expect('waits', [
    { outcome: 'deferred', level: 'warn', attempts: 0, error: /rate limited/ },
    { outcome: 'done', level: 'info', attempts: 1 },
  ]);
  assert.equal(JSON.stringify(lines).includes(secret), false, 'a payload reached the log');

  const samples = parseSamples(await metrics.registry.metrics());
  assert.equal(value(samples, 'arbiter_job_runs_total', { kind: 'fine', outcome: 'done' }), 1);
  assert.equal(value(samples, 'arbiter_job_runs_total', { kind: 'flaky', outcome: 'retry' }), 1);
  assert.equal(value(samples, 'arbiter_job_runs_total', { kind: 'flaky', outcome: 'done' }), 1);
  assert.equal(value(samples, 'arbiter_job_runs_total', { kind: 'doomed', outcome: 'dead' }), 1);
  assert.equal(value(samples, 'arbiter_job_runs_total', { kind: 'waits', outcome: 'deferred' }), 1);
  assert.equal(value(samples, 'arbiter_jobs', { kind: 'doomed', state: 'dead' }), 1);
  assert.equal(value(samples, 'arbiter_jobs', { kind: 'fine', state: 'pending' }), 0);
});
