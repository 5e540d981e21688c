import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { SESSION_COOKIE } from '../../src/http/session.js';
import { createLogger } from '../../src/log.js';
import { ADMIN, ADMIN_ENV, signedIn, STAFF } from '../support/admin.js';
import { testClock, type TestClock } from '../support/clock.js';
import { until } from '../support/server.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

const DAY = 86_400_000;
const D1 = '600000000000000001';
const D2 = '600000000000000002';
const EXPORT_ROWS = 10_000;
const PAGE_ROWS = 120;
const FORMULAS = ['=HYPERLINK("http://evil.example/","click")', '+1', '-1', '@SUM(A1:A9)', '\tcmd', 'ordinary text', 'a, "quoted" and\nsplit'];

type Cells = Record<string, string>;

/** The rows of the page's table, each as its cells' inner HTML by column name. */
function tableRows(html: string): Cells[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, tr]) => {
    const cells: Cells = {};
    for (const [, label, inner] of tr!.matchAll(/<td data-label="([^"]+)">([\s\S]*?)<\/td>/g)) cells[label!] = inner!;
    return cells;
  });
}

const text = (html: string) => html.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
const atOf = (cells: Cells) => /dateTime="([^"]+)"/i.exec(cells.When ?? '')?.[1] ?? '';

/** RFC 4180: fields separated by commas, records by CRLF, quoted fields with doubled quotes. */
function parseCsv(body: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === '"' && field === '') {
      i++;
      for (;;) {
        const q = body.indexOf('"', i);
        assert.ok(q >= 0, 'an unterminated quoted field');
        field += body.slice(i, q);
        if (body[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else if (c === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (c === '\r' && body[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else {
      assert.notEqual(c, '\n', 'a bare line feed outside quotes');
      field += c;
      i++;
    }
  }
  assert.equal(field, '', 'the last record ends with CRLF');
  assert.equal(record.length, 0);
  return records;
}

describe('admin audit log', () => {
  let world: World;
  let clock: TestClock;
  let logged = '';
  const admin = new Browser();
  const staff = new Browser();
  const days: Record<string, string> = {};
  let url: string;

  before(async () => {
    clock = testClock();
    clock.advance(-30 * DAY);
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    world = await startWorld({ env: ADMIN_ENV, overrides: { clock }, log: createLogger('info', sink) });
    url = `${world.app.url}/admin/audit`;
    const { audit, db } = world.app.services;
    const day = (name: string) => (days[name] = clock.now().toISOString().slice(0, 10));

    day('first');
    audit.record({ actor: 'webhook', action: 'subscription.created', email: 'Kim@Example.com', subscriptionId: 'sub_kim', discordId: D1, details: { tier: 'awakened' } });
    clock.advance(10 * DAY);
    day('second');
    audit.record({
      actor: `admin:${ADMIN.id}`,
      actorName: 'Ada',
      action: 'role.added',
      discordId: D1,
      roleId: ROLE.awakened,
      reason: '<script>alert("reason")</script> asked nicely',
      details: { note: '<img src=x onerror=alert(1)>', n: 1 },
    });
    clock.advance(10 * DAY);
    day('third');
    audit.record({ actor: 'system', action: 'role.removed', discordId: D2, roleId: ROLE.ascended, reason: 'subscription ended' });
    audit.record({ actor: 'subscriber', action: 'link.requested', email: 'other@example.com' });
    clock.advance(10 * DAY);
    day('today');
    db.transaction(() => {
      for (let i = 1; i <= PAGE_ROWS; i++) audit.record({ actor: 'system', action: 'test.page', reason: `page ${i}` });
      for (let i = 0; i < EXPORT_ROWS; i++) audit.record({ actor: 'webhook', action: 'test.export', reason: FORMULAS[i % FORMULAS.length]!, details: { i } });
    })();
    await signedIn(world, admin, ADMIN);
    await signedIn(world, staff, STAFF);
  });
  after(() => world.stop());

  const page = async (query: Record<string, string>, browser = admin) => {
    const res = await browser.get(`${url}?${new URLSearchParams(query)}`);
    const html = await res.text();
    assert.equal(res.status, 200, `${JSON.stringify(query)}: ${res.status} ${text(html).slice(0, 300)}`);
    return { html, rows: tableRows(html) };
  };

  test('the page: a filter form with a label for every field, newest entries first; staff can read it', async () => {
    const { html, rows } = await page({}, staff);
    for (const field of ['actor', 'action', 'email', 'discord', 'subscription', 'from', 'to']) {
      assert.match(html, new RegExp(`<label for="${field}">`), `a label for ${field}`);
      assert.match(html, new RegExp(`<input[^>]* id="${field}"[^>]* name="${field}"`), `an input for ${field}`);
    }
    assert.match(html, /<form method="get" action="\/admin\/audit"/);
    assert.equal(rows.length, 50);
    const ats = rows.map(atOf);
    assert.deepEqual([...ats].sort().reverse(), ats);
    assert.match(rows[0]!.What!, /admin\.signed_in/, 'the newest entry is the latest sign-in');
    assert.match(html, /href="\/admin\/audit\?before=\d+"[^>]*>Older entries/);
    assert.doesNotMatch(html, /Newest entries/);
  });

  test('the table: who, what, subject links, role by name, reason and details as text', async () => {
    const { html, rows } = await page({ action: 'role.added' });
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(text(row.Who!), `Ada (${ADMIN.id})`);
    assert.match(row.Subject!, new RegExp(`<a href="/admin/members/${D1}">${D1}</a>`));
    assert.equal(text(row.Role!), 'Awakened');
    assert.equal(text(row.Reason!), '<script>alert("reason")</script> asked nicely');
    assert.equal(text(row.Details!), '{"note":"<img src=x onerror=alert(1)>","n":1}');
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    const kim = (await page({ discord: D1, action: 'subscription.created' })).rows[0]!;
    assert.match(kim.Subject!, /<a href="\/admin\/subscriptions\/sub_kim">sub_kim<\/a>/);
    assert.match(text(kim.Subject!), /Kim@Example\.com/);
  });

  test('each filter narrows to what it names, and the form keeps the values', async () => {
    const actions = async (query: Record<string, string>) => (await page(query)).rows.map((r) => text(r.What!));

    const byAdmin = await page({ actor: ADMIN.id });
    assert.ok(byAdmin.rows.length >= 2);
    assert.ok(byAdmin.rows.every((r) => text(r.Who!) === `Ada (${ADMIN.id})`));
    assert.ok(byAdmin.rows.some((r) => text(r.What!) === 'role.added'));
    assert.match(byAdmin.html, new RegExp(`id="actor" name="actor" value="${ADMIN.id}"`));
    const byName = await page({ actor: 'aDA' });
    assert.deepEqual(byName.rows.map((r) => text(r.What!)), byAdmin.rows.map((r) => text(r.What!)));
    assert.deepEqual(await actions({ actor: 'subscriber' }), ['link.requested']);
    assert.deepEqual(await actions({ actor: STAFF.id }), ['admin.signed_in']);

    assert.deepEqual(await actions({ action: 'role.' }), ['role.removed', 'role.added']);
    assert.deepEqual(await actions({ action: 'role.removed' }), ['role.removed']);
    assert.deepEqual(await actions({ action: 'role' }), []);

    assert.deepEqual(await actions({ email: 'kim@EXAMPLE.COM' }), ['subscription.created']);
    assert.deepEqual(await actions({ email: 'kim@example.co' }), []);
    assert.deepEqual(await actions({ discord: D1 }), ['role.added', 'subscription.created']);
    assert.deepEqual(await actions({ discord: D2 }), ['role.removed']);
    assert.deepEqual(await actions({ subscription: 'sub_kim' }), ['subscription.created']);
    assert.deepEqual(await actions({ actor: 'system', discord: D2, action: 'role.' }), ['role.removed']);
    assert.deepEqual(await actions({ actor: 'webhook', discord: D2 }), []);
  });

  test('dates: from and to are inclusive of their days', async () => {
    const between = await page({ from: days.second!, to: days.third!, action: 'role.' });
    assert.deepEqual(between.rows.map((r) => text(r.What!)), ['role.removed', 'role.added']);
    const only = await page({ from: days.third!, to: days.third! });
    assert.ok(only.rows.length >= 2);
    assert.ok(only.rows.every((r) => atOf(r).startsWith(days.third!)));
    assert.match(only.html, new RegExp(`id="from" name="from" value="${days.third}"`));
    const early = await page({ to: days.first! });
    assert.ok(early.rows.length >= 1);
    assert.ok(early.rows.every((r) => atOf(r).slice(0, 10) <= days.first!));
    assert.ok(early.rows.some((r) => text(r.What!) === 'subscription.created'));
  });

  test('paging: older entries keep the filters, no entry twice and none missed; a way back to the newest', async () => {
    const reasons: string[] = [];
    let next: string | null = `${url}?action=test.page`;
    let pages = 0;
    while (next) {
      const res = await admin.get(next);
      const html = await res.text();
      const rows = tableRows(html);
      reasons.push(...rows.map((r) => text(r.Reason!)));
      pages++;
      if (pages > 1) assert.match(html, /href="\/admin\/audit\?action=test\.page"[^>]*>Newest entries/);
      const older = /href="(\/admin\/audit\?[^"]*)"[^>]*>Older entries/.exec(html)?.[1];
      if (older) assert.match(older, /^\/admin\/audit\?action=test\.page&amp;before=\d+$/);
      next = older ? `${world.app.url}${older.replace(/&amp;/g, '&')}` : null;
    }
    assert.equal(pages, 3);
    assert.deepEqual(reasons, Array.from({ length: PAGE_ROWS }, (_, i) => `page ${PAGE_ROWS - i}`));
  });

  test('bad filter values are refused with 400 and a precise message, and nothing is listed', async () => {
    const cases: [Record<string, string> | string, RegExp][] = [
      [{ discord: '12345' }, /Discord ID/],
      [{ actor: '42' }, /17 to 20 digits/],
      [{ action: 'role added' }, /action/],
      [{ email: 'nobody' }, /email/],
      [{ from: '2025-02-30' }, /2025-02-30 is not a real date/],
      [{ to: 'tomorrow' }, /YYYY-MM-DD/],
      [{ from: '2025-03-05', to: '2025-03-01' }, /after/],
      [{ before: '-1' }, /before/],
      [{ format: 'pdf' }, /format/],
      [{ sort: 'asc' }, /Unknown filter.*sort/],
      ['actor=system&actor=webhook', /one value/],
    ];
    for (const [query, message] of cases) {
      const qs = typeof query === 'string' ? query : new URLSearchParams(query).toString();
      const res = await admin.get(`${url}?${qs}`);
      const html = await res.text();
      assert.equal(res.status, 400, qs);
      assert.match(text(html), message, qs);
      assert.equal(tableRows(html).length, 0, `nothing listed for ${qs}`);
    }
    const signedOut = await new Browser().get(`${url}?format=csv`);
    assert.equal(signedOut.status, 303, 'nothing without signing in');
    assert.match(signedOut.headers.get('location')!, /^\/admin\/login/);
    const csv = await admin.get(`${url}?format=csv&discord=1`);
    assert.equal(csv.status, 400);
    assert.doesNotMatch(csv.headers.get('content-type') ?? '', /csv/);
  });

  test('CSV: every selected row, streamed, quoted by RFC 4180, formulas inert, ordinary text unchanged', async () => {
    const res = await admin.get(`${url}?action=test.export&format=csv`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="arbiter-audit-${days.today}.csv"`);
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(res.headers.get('transfer-encoding'), 'chunked');
    const records = parseCsv(await res.text());
    const [header, ...rows] = records;
    assert.deepEqual(header, ['id', 'at', 'actor', 'actor_name', 'action', 'email', 'discord_id', 'subscription_id', 'role_id', 'role_name', 'reason', 'details']);
    assert.equal(rows.length, EXPORT_ROWS);
    const ids = rows.map((r) => Number(r[0]));
    assert.equal(new Set(ids).size, EXPORT_ROWS);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    const reason = new Map(rows.map((r) => [JSON.parse(r[11]!).i as number, r[10]]));
    assert.equal(reason.get(0), `'=HYPERLINK("http://evil.example/","click")`);
    assert.equal(reason.get(1), "'+1");
    assert.equal(reason.get(2), "'-1");
    assert.equal(reason.get(3), "'@SUM(A1:A9)");
    assert.equal(reason.get(4), "'\tcmd");
    assert.equal(reason.get(5), 'ordinary text');
    assert.equal(reason.get(6), 'a, "quoted" and\nsplit');
    assert.ok(rows.every((r) => r[2] === 'webhook' && r[4] === 'test.export'));
  });

  test('CSV: the filters select the rows, across every page; role names are included', async () => {
    const res = await staff.get(`${url}?discord=${D1}&format=csv`);
    const [, ...rows] = parseCsv(await res.text());
    assert.deepEqual(rows.map((r) => r[4]), ['role.added', 'subscription.created']);
    assert.equal(rows[0]![3], 'Ada');
    assert.equal(rows[0]![9], 'Awakened');
    assert.equal(rows[0]![10], '<script>alert("reason")</script> asked nicely');
    const count = world.app.services.db.prepare('SELECT count(*) FROM audit_logs').pluck();
    const before = count.get() as number;
    const all = parseCsv(await (await admin.get(`${url}?format=csv`)).text()).length - 1;
    assert.ok(all >= before && all <= (count.get() as number), `${all} rows, the log holds ${before}`);
    assert.ok(all > EXPORT_ROWS + PAGE_ROWS);
  });

  test('an export whose reader goes away stops, and the service goes on answering', async () => {
    const { pathname, search, port } = new URL(`${url}?format=csv`);
    const host = new URL(url).host;
    const cookie = `${SESSION_COOKIE}=${admin.cookie(host, SESSION_COOKIE)}`;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: pathname + search, headers: { cookie, accept: 'text/html' } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (err.message.includes('aborted') || (err as { code?: string }).code === 'ECONNRESET' ? undefined : reject(err)));
      req.end();
    });
    const line = await until(() => logged.split('\n').find((l) => l.includes('audit export stopped')), 5_000, 'the export to stop');
    const { rows } = JSON.parse(line) as { rows: number };
    assert.ok(rows < EXPORT_ROWS, `stopped after ${rows} rows`);
    const res = await admin.get(`${url}?action=role.added`);
    assert.equal(res.status, 200);
    assert.equal(tableRows(await res.text()).length, 1);
  });
});
