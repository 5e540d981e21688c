import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/clock.js';
import { openDatabase, type Db } from '../../src/db/open.js';
import { CLAIM_SQL, createJobQueue, NEXT_RUN_SQL } from '../../src/jobs/queue.js';
import { testClock } from '../support/clock.js';

function planOf(db: Db, sql: string, params: unknown): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as never) as { detail: string }[]).map((r) => r.detail);
}

test('claiming a job and finding when a lane is next due look up each kind by index, whatever waits in other lanes', () => {
  const db = openDatabase(':memory:');
  const queue = createJobQueue(db, systemClock);
  // A burst of link emails waits; the lanes that look for other kinds must not read through them.
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) queue.enqueue('link_email', `sub_${i}`);
  })();
  queue.enqueue('prune', 'daily', {}, { runAt: new Date(Date.now() + 3_600_000) });
  const params = { now: new Date().toISOString(), kinds: JSON.stringify(['reconcile', 'grant_end', 'sweep']) };
  for (const [name, sql, args] of [['claim', CLAIM_SQL, params], ['next run', NEXT_RUN_SQL, [params.kinds]]] as const) {
    const plan = planOf(db, sql, args);
    const label = `${name}:\n  ${plan.join('\n  ')}`;
    // Reads of jobs other than by id (the row claimed) and other than the check for a running twin.
    const pending = plan.filter((line) => /^(SEARCH|SCAN) (j|jobs)\b/.test(line) && !/INTEGER PRIMARY KEY/.test(line));
    assert.ok(pending.length > 0, `no read of pending jobs in ${label}`);
    for (const line of pending) assert.match(line, /USING (COVERING )?INDEX jobs_pending_kind \(kind=\?/, `not by kind in ${label}`);
  }
  db.close();
});

test('claim takes the earliest due job of the lane across its kinds, skips a key that is running, and leaves jobs not yet due', () => {
  const clock = testClock();
  const db = openDatabase(':memory:');
  const queue = createJobQueue(db, clock);
  const start = clock.now().getTime();
  const at = (ms: number) => new Date(start + ms);
  const later = queue.enqueue('a', 'later', {}, { runAt: at(60_000) });
  const b1 = queue.enqueue('b', 'k1', {}, { runAt: at(-3_000) });
  const a1 = queue.enqueue('a', 'k1', {}, { runAt: at(-2_000) });
  const a2 = queue.enqueue('a', 'k2', {}, { runAt: at(-2_000) });
  queue.enqueue('c', 'other-lane', {}, { runAt: at(-10_000) });

  assert.equal(queue.claim(['a', 'b'])?.id, b1);
  // Same run_at: the older job first.
  assert.equal(queue.claim(['a', 'b'])?.id, a1);
  // A new job for a key that is running waits for that run to end.
  const twin = queue.enqueue('a', 'k1', {}, { runAt: at(-5_000) });
  assert.equal(queue.claim(['a', 'b'])?.id, a2);
  assert.equal(queue.claim(['a', 'b']), undefined);
  queue.complete(a1);
  assert.equal(queue.claim(['a', 'b'])?.id, twin);
  assert.equal(queue.claim(['a', 'b']), undefined);

  assert.equal(queue.nextRunAt(['a', 'b'])?.toISOString(), at(60_000).toISOString());
  assert.equal(queue.nextRunAt(['c', 'a'])?.toISOString(), at(-10_000).toISOString());
  assert.equal(queue.nextRunAt(['nothing']), undefined);
  clock.advance(61_000);
  assert.equal(queue.claim(['b', 'a'])?.id, later);
  db.close();
});
