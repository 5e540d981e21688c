import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditRow } from '../../src/audit/log.js';
import type { RoleGrant } from '../../src/roles/grants.js';
import { ADMIN, ADMIN_ENV, csrfFrom, linkSubscriber, signedIn, STAFF } from '../support/admin.js';
import { testClock } from '../support/clock.js';
import { until } from '../support/server.js';
import { Browser, ROLE, startWorld, WORLD_TIERS, type World } from '../support/world.js';
import type { FakeUser } from '../../stand-ins/discord.js';
import { h as jsx } from 'preact';
import { renderToString } from 'preact-render-to-string';
import { MemberActions, SubscriptionActions } from '../../src/views/admin/actions.js';

/** In roles.json, but the server has no such role. */
const MISSING_ROLE = '300000000000000077';
const TIERS = { ...WORLD_TIERS, phantom: [MISSING_ROLE] };
const REASON = 'Helps run the weekly events';

function helpers(world: () => World) {
  const db = () => world().app.services.db;
  return {
    /** What an admin action writes: compared before and after a refused one. */
    async snapshot() {
      await world().settle();
      return JSON.stringify({
        grants: db().prepare('SELECT * FROM role_grants ORDER BY id').all(),
        audit: db().prepare('SELECT COUNT(*) FROM audit_logs').pluck().get(),
        jobs: db().prepare('SELECT COUNT(*) FROM jobs').pluck().get(),
        subscriptions: db().prepare('SELECT * FROM subscriptions ORDER BY subscription_id').all(),
        tokens: db().prepare('SELECT COUNT(*) FROM link_tokens').pluck().get(),
      });
    },
    adminRows(): AuditRow[] {
      return db().prepare(`SELECT * FROM audit_logs WHERE actor = ? AND action NOT LIKE 'admin.%' ORDER BY id`).all(`admin:${ADMIN.id}`) as AuditRow[];
    },
    grantsOf(discordId: string): RoleGrant[] {
      return db().prepare('SELECT * FROM role_grants WHERE discord_id = ? ORDER BY id').all(discordId) as RoleGrant[];
    },
  };
}

/** Every visible field has a label; nothing inline that the CSP would refuse. */
function assertAccessibleForms(html: string): void {
  const ids = [...html.matchAll(/<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(ids.length > 0);
  for (const id of ids) assert.match(html, new RegExp(`<label for="${id}"`), `label for ${id}`);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  assert.doesNotMatch(html, /style=|<script/);
  for (const textarea of html.match(/<textarea[^>]*>/g) ?? []) {
    assert.match(textarea, /name="reason"/);
    assert.match(textarea, /required/);
    assert.match(textarea, /minlength="3"/);
    assert.match(textarea, /maxlength="500"/);
  }
}

const formActions = (html: string) => [...html.matchAll(/<form method="post" action="([^"]+)"/g)].map((m) => m[1]!);

/** The outcome of the last action, as the next panel page shows it (the dashboard shows it too). */
async function flashOf(w: World, browser: Browser): Promise<{ kind: string; text: string }> {
  const html = await (await browser.get(`${w.app.url}/admin`)).text();
  const m = /<p class="flash flash-(\w+)"[^>]*><strong>[^<]*<\/strong>\s*([^<]*)<\/p>/.exec(html);
  assert.ok(m, 'the page shows an outcome');
  return { kind: m[1]!, text: m[2]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&') };
}

describe('admin actions on members: grants, blocks, reconcile', () => {
  const clock = testClock();
  let w: World;
  const admin = new Browser();
  let csrf = '';
  const h = helpers(() => w);
  const SUB: FakeUser = { id: '600000000000000001', username: 'subby' };
  const MEMBER = '600000000000000002';
  const UNKNOWN = '600000000000000009';
  const post = (path: string, form: Record<string, string>) => admin.post(`${w.app.url}${path}`, { _csrf: csrf, ...form });

  before(async () => {
    // No periodic sweep: when the clock moves past a grant's end, only the grant's own reconcile may take the role.
    w = await startWorld({ env: { ...ADMIN_ENV, RECONCILE_INTERVAL_MINUTES: '0' }, tiers: TIERS, overrides: { clock } });
    w.discord.addUser({ id: MEMBER, username: 'mem' });
    w.discord.memberJoins(MEMBER, []);
    await linkSubscriber(w, { subscription_id: 'sub_1', customer_email: 'subby@example.com', tier: 'awakened' }, SUB);
    await signedIn(w, admin, ADMIN);
    csrf = await csrfFrom(admin, `${w.app.url}/admin`);
  });
  after(() => w.stop());

  test('a role outside roles.json is refused, for a grant and a block: 400, nothing written', async () => {
    const before = await h.snapshot();
    for (const path of [`/admin/members/${MEMBER}/grants`, `/admin/members/${MEMBER}/blocks`]) {
      const res = await post(path, { role_id: ROLE.booster, reason: REASON });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /not one of the roles Arbiter manages/);
    }
    assert.equal((await post(`/admin/members/${MEMBER}/grants`, { role_id: 'everything', reason: REASON })).status, 400);
    assert.equal(await h.snapshot(), before);
  });

  test('a managed role that the server does not have is refused: 400, nothing written', async () => {
    const before = await h.snapshot();
    const res = await post(`/admin/members/${MEMBER}/grants`, { role_id: MISSING_ROLE, reason: REASON });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /does not exist in the Discord server/);
    assert.equal(await h.snapshot(), before);
  });

  test('when Discord cannot be asked whether the role exists, nothing is written: 503', async () => {
    const before = await h.snapshot();
    w.discord.addFault({ method: 'GET', path: /^\/guilds\/\d+\/roles$/, status: 502, times: Infinity });
    try {
      const res = await post(`/admin/members/${MEMBER}/grants`, { role_id: ROLE.ascended, reason: REASON });
      assert.equal(res.status, 503);
      assert.match(await res.text(), /Nothing was changed/);
    } finally {
      w.discord.clearFaults();
    }
    assert.equal(await h.snapshot(), before);
  });

  test('a short reason, an expiry in the past and an expiry that is no date are refused: 400, nothing written', async () => {
    const before = await h.snapshot();
    const short = await post(`/admin/members/${MEMBER}/grants`, { role_id: ROLE.ascended, reason: '  ab   ' });
    assert.equal(short.status, 400);
    assert.match(await short.text(), /reason of 3 to 500 characters/);
    const missing = await post(`/admin/members/${MEMBER}/reconcile`, {});
    assert.equal(missing.status, 400);
    const yesterday = new Date(clock.now().getTime() - 86_400_000).toISOString().slice(0, 10);
    const past = await post(`/admin/members/${MEMBER}/grants`, { role_id: ROLE.ascended, reason: REASON, expires_at: yesterday });
    assert.equal(past.status, 400);
    assert.match(await past.text(), /in the future/);
    const garbled = await post(`/admin/members/${MEMBER}/blocks`, { role_id: 'all', reason: REASON, expires_at: '2030-02-30' });
    assert.equal(garbled.status, 400);
    assert.match(await garbled.text(), /YYYY-MM-DD/);
    assert.equal(await h.snapshot(), before);
  });

  test('a Discord ID Arbiter does not know and the server does not have is 404; so is a grant of someone else', async () => {
    const before = await h.snapshot();
    const grant = await post(`/admin/members/${UNKNOWN}/grants`, { role_id: ROLE.ascended, reason: REASON });
    assert.equal(grant.status, 404);
    assert.match(await grant.text(), new RegExp(UNKNOWN));
    assert.equal((await post(`/admin/members/${UNKNOWN}/reconcile`, { reason: REASON })).status, 404);
    assert.equal((await post(`/admin/members/${SUB.id}/grants/999999/revoke`, { reason: REASON })).status, 404);
    assert.equal((await post(`/admin/members/not-an-id/reconcile`, { reason: REASON })).status, 400);
    assert.equal(await h.snapshot(), before);
  });

  test('staff get 403 and a form without the CSRF token gets 403; nothing changes', async () => {
    const staff = new Browser();
    await signedIn(w, staff, STAFF);
    const staffCsrf = await csrfFrom(staff, `${w.app.url}/admin`);
    const before = await h.snapshot();
    const res = await staff.post(`${w.app.url}/admin/members/${SUB.id}/blocks`, { _csrf: staffCsrf, role_id: 'all', reason: REASON });
    assert.equal(res.status, 403);
    const forged = await admin.post(`${w.app.url}/admin/members/${SUB.id}/blocks`, { role_id: 'all', reason: REASON });
    assert.equal(forged.status, 403);
    assert.equal(await h.snapshot(), before);
    assert.ok(w.discord.member(SUB.id)!.roles.includes(ROLE.awakened));
  });

  test('a block of all managed roles takes the tier roles away; revoking it gives them back', async () => {
    const rows = h.adminRows().length;
    const res = await post(`/admin/members/${SUB.id}/blocks`, { role_id: 'all', reason: 'Spamming the channels' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `/admin/members/${SUB.id}`);
    const block = h.grantsOf(SUB.id).at(-1)!;
    assert.equal(block.kind, 'block');
    assert.equal(block.role_id, null);
    assert.equal(block.created_by, `admin:${ADMIN.id}`);
    assert.equal(block.created_by_name, 'Ada');
    assert.equal(block.reason, 'Spamming the channels');
    await w.settle();
    assert.ok(!w.discord.member(SUB.id)!.roles.includes(ROLE.awakened));
    const flash = await flashOf(w, admin);
    assert.equal(flash.kind, 'applied');
    assert.match(flash.text, /removed Awakened/);

    const revoke = await post(`/admin/members/${SUB.id}/grants/${block.id}/revoke`, { reason: 'Apologised' });
    assert.equal(revoke.status, 303);
    assert.equal(revoke.headers.get('location'), `/admin/members/${SUB.id}`);
    await w.settle();
    assert.ok(w.discord.member(SUB.id)!.roles.includes(ROLE.awakened));
    const ended = h.grantsOf(SUB.id).at(-1)!;
    assert.equal(ended.revoked_by, `admin:${ADMIN.id}`);
    assert.equal(ended.revoked_by_name, 'Ada');
    assert.equal(ended.revoke_reason, 'Apologised');

    const mine = h.adminRows().slice(rows);
    assert.deepEqual(mine.map((r) => [r.action, r.discord_id, r.actor_name, r.reason]), [
      ['block.added', SUB.id, 'Ada', 'Spamming the channels'],
      ['block.revoked', SUB.id, 'Ada', 'Apologised'],
    ]);

    const again = await post(`/admin/members/${SUB.id}/grants/${block.id}/revoke`, { reason: 'Apologised twice' });
    assert.equal(again.status, 409);
    assert.equal(h.adminRows().length, rows + 2);
  });

  test('reconcile now puts back what was changed by hand; the reason is stored as given, HTML and all', async () => {
    w.discord.setMemberRoles(SUB.id, []);
    const rows = h.adminRows().length;
    const reason = '<b>checked</b> & "fixed" <script>alert(1)</script>';
    const res = await post(`/admin/members/${SUB.id}/reconcile`, { reason });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `/admin/members/${SUB.id}`);
    await w.settle();
    assert.ok(w.discord.member(SUB.id)!.roles.includes(ROLE.awakened));
    const mine = h.adminRows().slice(rows);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.action, 'roles.reconcile_requested');
    assert.equal(mine[0]!.reason, reason);
    assert.equal(mine[0]!.actor_name, 'Ada');
  });

  test('a grant Discord refuses to carry out is reported as failed, in Discord\'s words', async () => {
    const target = '600000000000000003';
    w.discord.addUser({ id: target, username: 'tara' });
    w.discord.memberJoins(target, []);
    w.discord.setBotPermissions({ rolePosition: 1 });
    try {
      const res = await post(`/admin/members/${target}/grants`, { role_id: ROLE.ascended, reason: REASON });
      assert.equal(res.status, 303);
      const flash = await flashOf(w, admin);
      assert.equal(flash.kind, 'failed');
      assert.match(flash.text, /Manage Roles|highest role/);
    } finally {
      w.discord.setBotPermissions({ rolePosition: 10 });
    }
    assert.equal(h.grantsOf(target).length, 1, 'the grant itself was recorded');
  });

  test('the member forms: labelled, posting to the action routes; the reconcile form works as rendered', async () => {
    const block = w.app.services.grants.add({ discord_id: SUB.id, kind: 'block', role_id: ROLE.ascended, reason: 'Seeded <b>here</b>', created_by: `admin:${ADMIN.id}`, created_by_name: 'Ada', expires_at: null });
    const html = renderToString(
      jsx(MemberActions, {
        csrf,
        discordId: SUB.id,
        grantable: [{ id: ROLE.ascended, name: 'Ascended' }, { id: ROLE.awakened, name: 'Awakened' }],
        inForce: w.app.services.grants.active(SUB.id),
      }),
    );
    assertAccessibleForms(html);
    assert.match(html, /Seeded &lt;b>here&lt;\/b>/);
    assert.deepEqual(formActions(html), [
      `/admin/members/${SUB.id}/grants`,
      `/admin/members/${SUB.id}/blocks`,
      `/admin/members/${SUB.id}/grants/${block}/revoke`,
      `/admin/members/${SUB.id}/reconcile`,
    ]);
    assert.match(html, /<option value="all">All managed roles<\/option>/);
    assert.match(html, /type="date" name="expires_at"/);
    assert.match(html, /UTC/);

    const rows = h.adminRows().length;
    const action = formActions(html)[3]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const res = await admin.post(`${w.app.url}${action}`, { _csrf: token, reason: 'From the rendered form' });
    assert.equal(res.status, 303);
    assert.equal(h.adminRows().slice(rows).map((r) => r.reason).join(), 'From the rendered form');
  });

  test('the subscription forms: resend only while active and not linked, unlink only while linked', () => {
    const base = w.app.services.subscriptions.get('sub_1')!;
    const render = (s: typeof base) => renderToString(jsx(SubscriptionActions, { csrf, subscription: s }));
    const linked = render(base);
    assertAccessibleForms(linked);
    assert.deepEqual(formActions(linked), ['/admin/subscriptions/sub_1/unlink']);
    const waiting = render({ ...base, subscription_id: 'sub x/1', discord_id: null, linked_at: null });
    assertAccessibleForms(waiting);
    assert.deepEqual(formActions(waiting), ['/admin/subscriptions/sub%20x%2F1/resend-link']);
    assert.deepEqual(formActions(render({ ...base, status: 'suspended', discord_id: null })), []);
    assert.deepEqual(formActions(render({ ...base, status: 'suspended' })), ['/admin/subscriptions/sub_1/unlink']);
  });

  test('a grant with an end: the role is given now and taken away when the grant ends (last: it moves the clock)', async () => {
    // Work left by the tests before (their reconciles are not all awaited) must not answer for this grant.
    await w.settle();
    const rows = h.adminRows().length;
    const day = new Date(clock.now().getTime() + 2 * 86_400_000).toISOString().slice(0, 10);
    const res = await post(`/admin/members/${MEMBER}/grants`, { role_id: ROLE.ascended, expires_at: day, reason: REASON });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `/admin/members/${MEMBER}`);
    const grant = h.grantsOf(MEMBER).at(-1)!;
    assert.equal(grant.kind, 'grant');
    assert.equal(grant.role_id, ROLE.ascended);
    assert.equal(grant.expires_at, `${day}T00:00:00.000Z`);
    assert.equal(grant.created_by, `admin:${ADMIN.id}`);
    assert.equal(grant.created_by_name, 'Ada');
    await w.settle();
    assert.ok(w.discord.member(MEMBER)!.roles.includes(ROLE.ascended));
    const flash = await flashOf(w, admin);
    assert.equal(flash.kind, 'applied');
    assert.match(flash.text, /added Ascended/);

    const mine = h.adminRows().slice(rows);
    assert.equal(mine.length, 1);
    assert.deepEqual([mine[0]!.action, mine[0]!.discord_id, mine[0]!.role_id, mine[0]!.reason], ['grant.added', MEMBER, ROLE.ascended, REASON]);

    const ending = w.app.services.db.prepare(`SELECT * FROM jobs WHERE kind = 'grant_end' AND key = ?`).get(String(grant.id)) as { status: string; run_at: string };
    assert.equal(ending.status, 'pending');
    assert.equal(ending.run_at, grant.expires_at);

    clock.advance(3 * 86_400_000);
    await w.settle();
    assert.ok(!w.discord.member(MEMBER)!.roles.includes(ROLE.ascended));
  });
});

describe('admin actions on subscriptions: resend link, unlink', () => {
  let w: World;
  const admin = new Browser();
  let csrf = '';
  const h = helpers(() => w);
  const LINKED: FakeUser = { id: '610000000000000001', username: 'linda' };
  const post = (path: string, form: Record<string, string>) => admin.post(`${w.app.url}${path}`, { _csrf: csrf, ...form });

  before(async () => {
    w = await startWorld({ env: ADMIN_ENV });
    w.ghost.addMember({ email: 'linda@example.com', name: 'Linda', note: 'Met at the fair' });
    await linkSubscriber(w, { subscription_id: 'sub_linked', customer_email: 'linda@example.com', tier: 'awakened' }, LINKED);
    await until(() => w.ghost.member('linda@example.com')?.note?.includes(`discord_id: ${LINKED.id}`), 10_000, 'Ghost note');
    await w.event({ subscription_id: 'sub_waiting', customer_email: 'walt@example.com', tier: 'awakened' });
    await w.event({ subscription_id: 'sub_paused', customer_email: 'paula@example.com', tier: 'awakened' });
    await w.event({ subscription_id: 'sub_paused', customer_email: 'paula@example.com', event: 'subscription.suspended' });
    await w.settle();
    await signedIn(w, admin, ADMIN);
    csrf = await csrfFrom(admin, `${w.app.url}/admin`);
  });
  after(() => w.stop());

  test('resend link mails a new link; the one before no longer works', async () => {
    const first = await w.linkFor('walt@example.com', 1);
    const rows = h.adminRows().length;
    const res = await post('/admin/subscriptions/sub_waiting/resend-link', { reason: 'Says the email never came' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/subscriptions/sub_waiting');
    const second = await w.linkFor('walt@example.com', 2);
    assert.notEqual(second, first);
    assert.equal((await new Browser().get(first)).status, 410);
    assert.equal((await new Browser().get(second)).status, 303);
    const mine = h.adminRows().slice(rows);
    assert.deepEqual(mine.map((r) => [r.action, r.subscription_id, r.email, r.actor_name, r.reason]), [
      ['link.resend_requested', 'sub_waiting', 'walt@example.com', 'Ada', 'Says the email never came'],
    ]);
    const flash = await flashOf(w, admin);
    assert.equal(flash.kind, 'applied');
    assert.match(flash.text, /walt@example\.com/);
  });

  test('resend link is refused for a linked or inactive subscription (409) and an unknown one (404); short reasons get 400', async () => {
    const before = await h.snapshot();
    const linked = await post('/admin/subscriptions/sub_linked/resend-link', { reason: REASON });
    assert.equal(linked.status, 409);
    assert.match(await linked.text(), /already linked/);
    const paused = await post('/admin/subscriptions/sub_paused/resend-link', { reason: REASON });
    assert.equal(paused.status, 409);
    assert.match(await paused.text(), /suspended/);
    assert.equal((await post('/admin/subscriptions/sub_nope/resend-link', { reason: REASON })).status, 404);
    assert.equal((await post('/admin/subscriptions/sub_nope/unlink', { reason: REASON })).status, 404);
    assert.equal((await post('/admin/subscriptions/sub_waiting/unlink', { reason: REASON })).status, 409);
    assert.equal((await post('/admin/subscriptions/sub_waiting/resend-link', { reason: 'no' })).status, 400);
    assert.equal(await h.snapshot(), before);
  });

  test('staff cannot unlink: 403, nothing changes', async () => {
    const staff = new Browser();
    await signedIn(w, staff, STAFF);
    const staffCsrf = await csrfFrom(staff, `${w.app.url}/admin`);
    const before = await h.snapshot();
    const res = await staff.post(`${w.app.url}/admin/subscriptions/sub_linked/unlink`, { _csrf: staffCsrf, reason: REASON });
    assert.equal(res.status, 403);
    assert.equal(await h.snapshot(), before);
  });

  test('unlink: the subscription waits for a link again, the roles go, Ghost forgets the ID, and no email is sent', async () => {
    const mails = w.smtp.messages.length;
    const rows = h.adminRows().length;
    const res = await post('/admin/subscriptions/sub_linked/unlink', { reason: 'Linked the wrong account' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/subscriptions/sub_linked');
    const s = w.app.services.subscriptions.get('sub_linked')!;
    assert.equal(s.discord_id, null);
    assert.equal(s.linked_at, null);
    await w.settle();
    assert.ok(!w.discord.member(LINKED.id)!.roles.includes(ROLE.awakened));
    const mine = h.adminRows().slice(rows);
    assert.deepEqual(mine.map((r) => [r.action, r.subscription_id, r.discord_id, r.actor_name, r.reason]), [
      ['link.removed', 'sub_linked', LINKED.id, 'Ada', 'Linked the wrong account'],
    ]);
    const flash = await flashOf(w, admin);
    assert.equal(flash.kind, 'applied');
    assert.match(flash.text, /Resend link/);
    assert.equal(w.smtp.messages.length, mails);
    const member = w.ghost.member('linda@example.com')!;
    assert.equal(member.note, 'Met at the fair');
    assert.ok(!member.labels.some((l) => l.name === 'discord'));

    // Now it can be sent a link again.
    const resend = await post('/admin/subscriptions/sub_linked/resend-link', { reason: 'Wants to link the right account' });
    assert.equal(resend.status, 303);
    await w.linkFor('linda@example.com', 2);
  });
});
