import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createCommitQueue } from '../../src/db/commit-queue.js';
import { openDatabase } from '../../src/db/open.js';
import { tempDir } from '../support/config.js';

function setup() {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'arbiter.db'), []);
  db.exec('CREATE TABLE t (x BLOB)');
  return { db, queue: createCommitQueue(db), rows: () => db.prepare('SELECT COUNT(*) FROM t').pluck().get() as number, close: () => { db.close(); dir.remove(); } };
}

test('work that arrives together commits together; one failure undoes only its own part', async (t) => {
  const s = setup();
  t.after(s.close);
  const insert = s.db.prepare('INSERT INTO t VALUES (?)');
  const results = await Promise.allSettled([
    s.queue.run(() => insert.run(Buffer.alloc(1))),
    s.queue.run(() => { insert.run(Buffer.alloc(1)); throw new Error('invalid'); }),
    s.queue.run(() => insert.run(Buffer.alloc(1))),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(s.rows(), 2);
});

test('a disk-full error that rolls back the whole transaction fails the whole batch with the real cause', async (t) => {
  const s = setup();
  t.after(s.close);
  const insert = s.db.prepare('INSERT INTO t VALUES (?)');
  const pages = s.db.pragma('page_count', { simple: true }) as number;
  s.db.pragma(`max_page_count = ${pages + 5}`);
  const results = await Promise.allSettled([
    s.queue.run(() => insert.run(Buffer.alloc(10))),
    s.queue.run(() => insert.run(Buffer.alloc(1_000_000))),
    s.queue.run(() => insert.run(Buffer.alloc(10))),
  ]);
  // SQLite rolled the transaction back: nothing may have committed, and nobody may be told otherwise.
  assert.equal(s.rows(), 0);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.equal((r as PromiseRejectedResult).reason.code, 'SQLITE_FULL');
  }
  // The queue works again once there is room.
  s.db.pragma('max_page_count = 1073741823');
  await s.queue.run(() => insert.run(Buffer.alloc(10)));
  assert.equal(s.rows(), 1);
});
