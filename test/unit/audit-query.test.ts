import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createAuditLog, type Actor, type AuditLog, type AuditRow } from '../../src/audit/log.js';
import { openDatabase, type Db } from '../../src/db/open.js';
import {
  readAuditPage,
  auditSelect,
  csvCell,
  csvLine,
  parseAuditQuery,
  writeAuditCsv,
  type AuditFilter,
} from '../../src/admin/audit-query.js';

const ADA = '500000000000000001';
const BOB = '500000000000000002';
const START = Date.parse('2025-03-01T00:00:00.000Z');

/** An in-memory database with every migration and `n` audit rows, one every 3 hours from START. */
function seeded(n: number): { db: Db; audit: AuditLog; rows: AuditRow[] } {
  const db = openDatabase(':memory:');
  let now = START;
  const audit = createAuditLog(db, { now: () => new Date(now) });
  const actors: Actor[] = [`admin:${ADA}`, `admin:${BOB}`, 'webhook', 'system', 'subscriber'];
  const actions = ['role.added', 'role.removed', 'link.emailed', 'subscription.created', 'admin.signed_in'];
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const actor = actors[i % actors.length]!;
      audit.record({
        actor,
        actorName: actor === `admin:${ADA}` ? (i % 2 ? 'Ada' : 'ADA') : actor === `admin:${BOB}` ? 'Bob' : null,
        action: actions[(i * 7) % actions.length]!,
        email: i % 3 === 0 ? `Person${i % 11}@Example.com` : null,
        discordId: i % 4 === 0 ? `60000000000000000${i % 6}` : null,
        subscriptionId: i % 5 === 0 ? `sub_${i % 9}` : null,
        roleId: i % 2 ? '300000000000000001' : null,
        reason: `row ${i}`,
      });
      now += 3 * 3_600_000;
    }
  })();
  const rows = db.prepare('SELECT * FROM audit_logs ORDER BY id DESC').all() as AuditRow[];
  return { db, audit, rows };
}

function parsed(query: Record<string, string>): AuditFilter {
  const request = parseAuditQuery(query);
  assert.ok(request.ok, `rejected: ${request.ok ? '' : request.message}`);
  return request.filter;
}

/** Every filter a person can set, one value each, so all combinations can be tried. */
const FIELD_CHOICES: Record<string, (string | undefined)[]> = {
  actor: [undefined, ADA, 'ada', 'webhook'],
  action: [undefined, 'role.added', 'role.'],
  email: [undefined, 'person0@example.com'],
  discord: [undefined, '600000000000000000'],
  subscription: [undefined, 'sub_0'],
  from: [undefined, '2025-03-10'],
  to: [undefined, '2025-04-20T12:00'],
};

function* combinations(): Generator<Record<string, string>> {
  const fields = Object.keys(FIELD_CHOICES);
  const walk = function* (i: number, acc: Record<string, string>): Generator<Record<string, string>> {
    if (i === fields.length) {
      yield acc;
      return;
    }
    for (const value of FIELD_CHOICES[fields[i]!]!) yield* walk(i + 1, value === undefined ? acc : { ...acc, [fields[i]!]: value });
  };
  yield* walk(0, {});
}

function matches(row: AuditRow, f: AuditFilter): boolean {
  if (f.actor && row.actor !== f.actor) return false;
  if (f.actorName && row.actor_name?.toLowerCase() !== f.actorName.toLowerCase()) return false;
  if (f.action && row.action !== f.action) return false;
  if (f.actionPrefix && !row.action.startsWith(f.actionPrefix)) return false;
  if (f.email && row.email?.toLowerCase() !== f.email.toLowerCase()) return false;
  if (f.discordId && row.discord_id !== f.discordId) return false;
  if (f.subscriptionId && row.subscription_id !== f.subscriptionId) return false;
  if (f.from && row.at < f.from) return false;
  if (f.to && row.at >= f.to) return false;
  return true;
}

describe('audit query', () => {
  let db: Db;
  let rows: AuditRow[];
  let audit: AuditLog;
  before(() => {
    ({ db, rows, audit } = seeded(1200));
  });
  after(() => db.close());

  test('every combination of filters is served by an index, newest first without a sort, never a table scan', () => {
    let tried = 0;
    for (const query of combinations()) {
      for (const cursor of [null, rows[100]!.id]) {
        const select = auditSelect(db, parsed(query), cursor, 51);
        if (!select) continue;
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${select.sql}`).all(select.params) as { detail: string }[]).map((r) => r.detail);
        const label = `${JSON.stringify(query)} before=${cursor}:\n  ${plan.join('\n  ')}`;
        assert.ok(!plan.some((line) => /^SCAN audit_logs\b/.test(line)), `a table scan for ${label}`);
        assert.ok(!plan.some((line) => /TEMP B-TREE/.test(line)), `a sort for ${label}`);
        assert.ok(plan.some((line) => /^SEARCH audit_logs USING (INDEX|INTEGER PRIMARY KEY)/.test(line)), `no index search for ${label}`);
        // The plan does not say which of two upper bounds on the id SQLite seeks on: there must be only one.
        for (const leg of select.sql.split(' UNION ALL ')) assert.equal(leg.match(/\bid <=? /g)?.length, 1, `upper bounds in ${leg}`);
        tried++;
      }
    }
    assert.ok(tried > 500, `${tried} plans checked`);
  });

  test('a selective filter uses its own index', () => {
    const planOf = (query: Record<string, string>) => {
      const select = auditSelect(db, parsed(query), null, 51)!;
      return (db.prepare(`EXPLAIN QUERY PLAN ${select.sql}`).all(select.params) as { detail: string }[]).map((r) => r.detail).join('\n');
    };
    assert.match(planOf({ actor: ADA }), /USING INDEX audit_logs_actor \(actor=\?/);
    assert.match(planOf({ actor: 'Ada' }), /USING INDEX audit_logs_actor_name \(actor_name=\?/);
    assert.match(planOf({ action: 'role.added' }), /USING INDEX audit_logs_action \(action=\?/);
    assert.match(planOf({ action: 'role.' }), /MERGE \(UNION ALL\)[\s\S]*audit_logs_action \(action=\?/);
    assert.match(planOf({ email: 'x@example.com' }), /USING INDEX audit_logs_email \(email=\?/);
    assert.match(planOf({ discord: '600000000000000000' }), /USING INDEX audit_logs_discord \(discord_id=\?/);
    assert.match(planOf({ subscription: 'sub_1' }), /USING INDEX audit_logs_subscription \(subscription_id=\?/);
    assert.match(planOf({ from: '2025-03-10', to: '2025-03-12' }), /USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/);
    // Two filters: the one about a person leads, then an admin, then an action, then a fixed actor.
    assert.match(planOf({ action: 'role.added', discord: '600000000000000000', actor: ADA }), /audit_logs_discord \(discord_id=\?/);
    assert.match(planOf({ email: 'x@example.com', actor: 'Ada' }), /audit_logs_email \(email=\?/);
    assert.match(planOf({ action: 'role.added', actor: ADA }), /audit_logs_actor \(actor=\?/);
    assert.match(planOf({ action: 'role.added', actor: 'webhook' }), /audit_logs_action \(action=\?/);
    assert.match(planOf({ action: 'role.', actor: 'webhook' }), /MERGE \(UNION ALL\)/);
    assert.doesNotMatch(planOf({ action: 'role.', actor: 'webhook' }), /audit_logs_actor/);
    assert.match(planOf({ action: 'role.', actor: 'Ada', from: '2025-03-10' }), /audit_logs_actor_name \(actor_name=\? AND id>\? AND id<\?\)/);
  });

  test('paging through any filter returns each matching row exactly once, newest first', () => {
    let checked = 0;
    for (const query of combinations()) {
      const filter = parsed(query);
      const expected = rows.filter((r) => matches(r, filter)).map((r) => r.id);
      const seen: number[] = [];
      let cursor: number | null = null;
      for (let pages = 0; pages < 1000; pages++) {
        const page = readAuditPage({ db }, filter, cursor);
        seen.push(...page.rows.map((r) => r.id));
        assert.ok(page.rows.length <= 50);
        if (page.older === null) break;
        assert.equal(page.rows.length, 50, 'only the last page is short');
        cursor = page.older;
      }
      assert.deepEqual(seen, expected, `paging ${JSON.stringify(query)}`);
      if (expected.length > 50) checked++;
    }
    assert.ok(checked > 20, `${checked} filters needed more than one page`);
  });

  test('dates: from is inclusive, a date in to includes that whole day, a time in to includes that minute', () => {
    const ats = (query: Record<string, string>) => {
      const out: string[] = [];
      let cursor: number | null = null;
      do {
        const page = readAuditPage({ db }, parsed(query), cursor);
        out.push(...page.rows.map((r) => r.at));
        cursor = page.older;
      } while (cursor !== null);
      return out;
    };
    const day = ats({ from: '2025-03-02', to: '2025-03-02' });
    assert.deepEqual(day, ['2025-03-02T21:00:00.000Z', '2025-03-02T18:00:00.000Z', '2025-03-02T15:00:00.000Z', '2025-03-02T12:00:00.000Z', '2025-03-02T09:00:00.000Z', '2025-03-02T06:00:00.000Z', '2025-03-02T03:00:00.000Z', '2025-03-02T00:00:00.000Z']);
    assert.deepEqual(ats({ from: '2025-03-02T03:00', to: '2025-03-02T06:00' }), ['2025-03-02T06:00:00.000Z', '2025-03-02T03:00:00.000Z']);
    assert.deepEqual(ats({ from: '2025-03-02 04:00', to: '2025-03-02T05:59:59' }), []);
    assert.deepEqual(ats({ from: '2025-03-02T05:00:00+02:00', to: '2025-03-02T03:00Z' }), ['2025-03-02T03:00:00.000Z']);
    assert.deepEqual(ats({ to: '2025-03-01' }).length, 8);
    assert.deepEqual(ats({ from: '2099-01-01' }), []);
    assert.deepEqual(ats({ to: '2001-01-01' }), []);
  });

  test('bad filter values are refused with a message naming the field and the problem', () => {
    const refused = (query: Record<string, unknown>, pattern: RegExp) => {
      const request = parseAuditQuery(query);
      assert.equal(request.ok, false, `accepted ${JSON.stringify(query)}`);
      if (!request.ok) assert.match(request.message, pattern);
    };
    refused({ discord: '12345' }, /Discord ID.*17 to 20 digits/);
    refused({ actor: '123' }, /actor.*17 to 20 digits/);
    refused({ action: 'role added' }, /action/);
    refused({ action: 'role..added' }, /action/);
    refused({ email: 'not-an-email' }, /email/);
    refused({ from: '2025-02-30' }, /from.*2025-02-30.*not a real date/);
    refused({ to: 'yesterday' }, /to.*YYYY-MM-DD/);
    refused({ from: '2025-03-05', to: '2025-03-04' }, /from.*after.*to/);
    refused({ before: 'abc' }, /before/);
    refused({ before: '0' }, /before/);
    refused({ format: 'xml' }, /format.*csv/);
    refused({ actor: [ADA, BOB] }, /actor.*one value/);
    refused({ colour: 'red' }, /Unknown filter.*colour/);
    assert.ok(parseAuditQuery({ actor: '', action: '  ', from: '' }).ok, 'empty fields of the form mean no filter');
    const filter = parsed({ actor: `admin:${ADA}`, action: ' role. ', email: ' A@B.example ' });
    assert.deepEqual(filter, { actor: `admin:${ADA}`, actionPrefix: 'role.', email: 'A@B.example' });
    assert.deepEqual(parsed({ actor: 'System' }), { actor: 'system' });
    // Programs and command-line users are found by the name the log gives them, not among admins' names.
    assert.deepEqual(parsed({ actor: 'CLI:ops' }), { actor: 'cli:ops' });
    assert.deepEqual(parsed({ actor: 'api:shop-bot' }), { actor: 'api:shop-bot' });
    assert.deepEqual(parsed({ actor: 'oidc:wiki' }), { actor: 'oidc:wiki' });
  });

  test('CSV cells: RFC 4180 quoting, and formulas made inert', () => {
    assert.equal(csvCell('plain text'), 'plain text');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell('cr\rhere'), '"cr\rhere"');
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), `"'=HYPERLINK(""http://x"",""y"")"`);
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell('-1'), "'-1");
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvCell('\tx'), "'\tx");
    assert.equal(csvCell('\rx'), `"'\rx"`);
    assert.equal(csvCell('a=b'), 'a=b');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(42), '42');
    assert.equal(csvLine(['a', null, 'b,c']), 'a,,"b,c"\r\n');
  });

  test('the export writes every selected row once, and never runs ahead of a slow reader', async () => {
    const queries: Record<string, string>[] = [{}, { action: 'role.' }, { actor: 'ada', from: '2025-03-20' }];
    for (const query of queries) {
      const filter = parsed(query);
      const expected = rows.filter((r) => matches(r, filter)).map((r) => r.id);
      let text = '';
      let buffered = 0;
      // A reader that takes each piece only on the next turn of the event loop, with a small buffer.
      const out: Writable = new Writable({
        highWaterMark: 1024,
        write(chunk, _enc, done) {
          text += chunk.toString();
          buffered = Math.max(buffered, out.writableLength);
          setImmediate(done);
        },
      });
      const outcome = await writeAuditCsv({ db, roleName: (id) => (id === '300000000000000001' ? 'Awakened' : undefined) }, filter, out, new AbortController().signal);
      assert.deepEqual(outcome, { rows: expected.length, complete: true });
      const lines = text.trimEnd().split('\r\n');
      assert.equal(lines[0], 'id,at,actor,actor_name,action,email,discord_id,subscription_id,role_id,role_name,reason,details');
      assert.deepEqual(lines.slice(1).map((l) => Number(l.split(',')[0])), expected, JSON.stringify(query));
      if (expected.length === rows.length) {
        assert.ok(text.length > 100_000);
        assert.ok(buffered < 20_000, `${buffered} bytes waited in the buffer`);
        assert.match(lines[1]!, /,Awakened,row \d+,$/);
      }
    }
  });

  test('a reader that takes everything at once does not keep the event loop from other work', async () => {
    // A socket with room in the kernel buffer: each write completes on the next tick, and so does 'drain'.
    const out = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, done) {
        process.nextTick(done);
      },
    });
    let turns = 0;
    let running = true;
    const turn = () => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const outcome = await writeAuditCsv({ db }, {}, out, new AbortController().signal);
    running = false;
    assert.equal(outcome.complete, true);
    assert.ok(turns >= Math.floor(outcome.rows / 500), `the event loop turned ${turns} times during ${outcome.rows} rows`);
  });

  test('while the export waits for its reader, the connection is free for writes; a reader that leaves stops it', async () => {
    const out = new Writable({ highWaterMark: 512, write() {} }); // takes one chunk, then never drains
    const stop = new AbortController();
    const running = writeAuditCsv({ db }, {}, out, stop.signal);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // A webhook's write at this moment would fail with "connection is busy" if the export held a statement open.
    audit.record({ actor: 'webhook', action: 'test.during_export' });
    db.transaction(() => audit.record({ actor: 'webhook', action: 'test.during_export' }))();
    stop.abort();
    const outcome = await running;
    assert.equal(outcome.complete, false);
    assert.ok(outcome.rows > 0 && outcome.rows < rows.length, `${outcome.rows} rows before it stopped`);
  });
});
