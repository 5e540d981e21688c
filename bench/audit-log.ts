/**
 * The audit log at scale: one page of each filter, and a whole CSV export, at 100,000 rows (the baseline: enough
 * for most filters to fill a page) and at 1,000,000 rows, in one run. Keyset pages through indexes should cost about
 * the same at both sizes.
 * Run: npm run bench:audit (BENCH_AUDIT_ROWS changes the large size).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { parseAuditQuery, readAuditPage, writeAuditCsv } from '../src/admin/audit-query.js';
import { openDatabase, type Db } from '../src/db/open.js';
import { tempDir } from '../test/support/config.js';

const LARGE = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
const SMALL = 100_000;
const ADMINS = ['500000000000000001', '500000000000000002', '500000000000000003'];
const ACTIONS = ['role.added', 'role.removed', 'link.emailed', 'link.completed', 'subscription.created', 'grant.added', 'ghost.updated'];

/** Rows spread like a real log: mostly system and webhook entries about many people, a few by admins. */
function fill(db: Db, rows: number): void {
  const insert = db.prepare(`INSERT INTO audit_logs (at, actor, actor_name, action, email, discord_id, subscription_id, role_id, reason, details)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const person = i % 50_000;
      const admin = i % 97 === 0 ? ADMINS[i % ADMINS.length]! : null;
      insert.run(
        new Date(start + i * 15_000).toISOString(),
        admin ? `admin:${admin}` : i % 3 === 0 ? 'webhook' : 'system',
        admin ? `Admin ${admin.slice(-1)}` : null,
        ACTIONS[i % ACTIONS.length],
        `user${person}@example.com`,
        String(600000000000000000n + BigInt(person)),
        `sub_${person}`,
        i % 2 === 0 ? '300000000000000001' : null,
        admin ? 'a reason' : null,
        null,
      );
    }
  });
  for (let i = 0; i < rows; i += 50_000) batch(i, Math.min(rows, i + 50_000));
}

const FILTERS: Record<string, Record<string, string>> = {
  'no filter': {},
  'Discord ID': { discord: '600000000000012345' },
  email: { email: 'user12345@example.com' },
  'admin by ID': { actor: ADMINS[0]! },
  'admin by name': { actor: 'Admin 2' },
  'action exact': { action: 'grant.added' },
  'action prefix': { action: 'link.' },
  'fixed actor': { actor: 'webhook' },
  'date range': { from: '2026-01-02', to: '2026-01-03' },
  'actor + action + dates': { actor: 'system', action: 'role.', from: '2026-01-01', to: '2026-01-04' },
};

/** Median of a few runs of one page (the first run warms the statement cache). */
function pageMs(db: Db, query: Record<string, string>): number {
  const request = parseAuditQuery(query);
  if (!request.ok) throw new Error(request.message);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    readAuditPage({ db }, request.filter, null);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[3]!;
}

async function csvSeconds(db: Db): Promise<{ seconds: number; rows: number; megabytes: number }> {
  let bytes = 0;
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((bytes += chunk.length), done()) });
  const request = parseAuditQuery({});
  if (!request.ok) throw new Error(request.message);
  const t0 = performance.now();
  const { rows } = await writeAuditCsv({ db }, request.filter, sink, new AbortController().signal);
  return { seconds: (performance.now() - t0) / 1000, rows, megabytes: bytes / 1e6 };
}

async function measure(rows: number) {
  const dir = tempDir('arbiter-bench-audit-');
  const db = openDatabase(join(dir.path, 'arbiter.db'));
  fill(db, rows);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pages = Object.fromEntries(Object.entries(FILTERS).map(([name, query]) => [name, pageMs(db, query)]));
  const csv = await csvSeconds(db);
  db.close();
  dir.remove();
  return { pages, csv };
}

const small = await measure(SMALL);
const large = await measure(LARGE);
console.log(`one page (50 rows), median of 7, ms: ${SMALL.toLocaleString('en')} rows vs ${LARGE.toLocaleString('en')} rows\n`);
console.log('| filter | small | large | ratio |\n| --- | --- | --- | --- |');
for (const name of Object.keys(FILTERS)) {
  const s = small.pages[name]!;
  const l = large.pages[name]!;
  console.log(`| ${name} | ${s.toFixed(2)} | ${l.toFixed(2)} | ${(l / s).toFixed(1)} |`);
}
console.log(`\nCSV of every row: ${small.csv.rows} rows in ${small.csv.seconds.toFixed(3)} s; ${large.csv.rows} rows (${large.csv.megabytes.toFixed(0)} MB) in ${large.csv.seconds.toFixed(1)} s`);
console.log(`CSV rows per second: ${(small.csv.rows / small.csv.seconds).toFixed(0)} vs ${(large.csv.rows / large.csv.seconds).toFixed(0)}`);
