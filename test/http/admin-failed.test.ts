import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NOTE_MAX } from '../../src/ghost/note.js';
import { RECONCILE_JOB } from '../../src/roles/jobs.js';
import { ADMIN, ADMIN_ENV, csrfFrom, linkSubscriber, signedIn, STAFF } from '../support/admin.js';
import { WEBHOOK_SECRET } from '../support/config.js';
import { until } from '../support/server.js';
import { postWebhook, standardHeaders } from '../support/webhooks.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

let next = 610000000000000000n;

describe('admin failed work', () => {
  let w: World;
  const admin = new Browser();
  const staff = new Browser();
  before(async () => {
    w = await startWorld({
      env: ADMIN_ENV,
      // A long poll: a retried job can only run promptly if the retry wakes the worker.
      overrides: { retry: { baseDelayMs: 5, maxDelayMs: 20, pollMs: 60_000 } },
    });
    await signedIn(w, admin, ADMIN);
    await signedIn(w, staff, STAFF);
  });
  after(() => w.stop());

  const url = (path: string) => `${w.app.url}${path}`;
  const audit = (action: string) => w.app.services.audit.list({ action });
  const job = (id: number) => w.app.services.jobs.get(id)!;
  const snapshot = () => ({
    audit: w.app.services.audit.list({ limit: 10_000 }).length,
    jobs: w.app.services.db.prepare('SELECT id, status, attempts, run_at, give_up_at FROM jobs ORDER BY id').all(),
  });

  let n = 0;
  /** A subscriber who links their Discord account for real; the reconcile that follows runs at once. */
  async function linkedSubscriber(options: { ghostNote?: string } = {}) {
    const user = { id: String(++next), username: `user${next}` };
    const email = `f${++n}@example.com`;
    const sub = `sub_f${n}`;
    if (options.ghostNote !== undefined) w.ghost.addMember({ email, note: options.ghostNote });
    await linkSubscriber(w, { subscription_id: sub, customer_email: email }, user);
    return { user, email, sub };
  }
  const deadJob = (kind: string, key: string) =>
    until(() => w.app.services.jobs.dead(1000).find((j) => j.kind === kind && j.key === key), 10_000, `dead ${kind} ${key}`);

  /** With the bot's role below the managed ones, adding them fails for good (Discord's 50013). */
  async function botBelowRoles(low: boolean) {
    w.discord.setBotPermissions({ rolePosition: low ? 0 : 10 });
    await w.app.services.discord!.bot.checkPermissions();
  }

  let reconcileId: number;
  let ghostId: number;
  let s1: Awaited<ReturnType<typeof linkedSubscriber>>;

  test('a job that failed for good is listed in words: what, who, the role by name, attempts, the error', async () => {
    await botBelowRoles(true);
    // A note already at Ghost's limit: adding the Discord ID line would pass it, so the Ghost update fails for good too.
    s1 = await linkedSubscriber({ ghostNote: 'x'.repeat(NOTE_MAX) });
    reconcileId = (await deadJob(RECONCILE_JOB, s1.user.id)).id;
    ghostId = (await deadJob('ghost_sync', s1.sub)).id;

    const res = await staff.get(url('/admin/failed'));
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<h1>Failed work<\/h1>/);
    assert.match(html, /Role reconcile/);
    assert.ok(html.includes(`<a href="/admin/members/${s1.user.id}">${s1.user.id}</a>`), 'the Discord ID links to the member');
    assert.match(html, /Role: <strong>Awakened<\/strong>/);
    assert.match(html, /discord_missing_permissions/);
    assert.match(html, /Ghost update/);
    assert.ok(html.includes(`<a href="/admin/subscriptions/${s1.sub}">${s1.sub}</a> (${s1.email})`), 'the Ghost update names the subscription and email');
    assert.match(html, /longer than Ghost's 2000 characters/);
    // Staff read, but get no retry forms.
    assert.doesNotMatch(html, /action="\/admin\/failed\/\d+\/retry"/);
    assert.doesNotMatch(html, /action="\/admin\/failed\/retry-all"/);
    assert.match(html, /Only admins can retry/);

    const mine = await (await admin.get(url('/admin/failed'))).text();
    assert.ok(mine.includes(`action="/admin/failed/${reconcileId}/retry"`));
    assert.ok(mine.includes(`<label for="reason-${reconcileId}">`));
    assert.match(mine, /action="\/admin\/failed\/retry-all"/);
  });

  test('staff cannot retry: 403 and nothing changes', async () => {
    const before = snapshot();
    const csrf = await csrfFrom(staff, url('/admin/failed'));
    assert.equal((await staff.post(url(`/admin/failed/${reconcileId}/retry`), { _csrf: csrf, reason: 'staff trying' })).status, 403);
    assert.equal((await staff.post(url('/admin/failed/retry-all'), { _csrf: csrf, reason: 'staff trying' })).status, 403);
    assert.deepEqual(snapshot(), before);
  });

  test('no CSRF token is 403; a missing, short or long reason is 400 saying so; an unknown job is 404; nothing changes', async () => {
    const before = snapshot();
    const csrf = await csrfFrom(admin, url('/admin/failed'));
    const retry = (form: Record<string, string>, id: number | string = reconcileId) => admin.post(url(`/admin/failed/${id}/retry`), form);
    assert.equal((await retry({ reason: 'no token here' })).status, 403);
    assert.equal((await admin.post(url('/admin/failed/retry-all'), { reason: 'no token here' })).status, 403);
    const missing = await retry({ _csrf: csrf });
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /Give a reason/);
    const short = await retry({ _csrf: csrf, reason: '  ab   ' });
    assert.equal(short.status, 400);
    assert.match(await short.text(), /too short/);
    const long = await admin.post(url('/admin/failed/retry-all'), { _csrf: csrf, reason: 'x'.repeat(501) });
    assert.equal(long.status, 400);
    assert.match(await long.text(), /too long/);
    const unknown = await retry({ _csrf: csrf, reason: 'no such job' }, 99_999);
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /no job 99999/);
    assert.equal((await retry({ _csrf: csrf, reason: 'not a number' }, 'abc')).status, 404);
    assert.deepEqual(snapshot(), before);
  });

  test('once the cause is fixed, a retry with a reason runs the job at once and it succeeds; one audit row', async () => {
    await botBelowRoles(false);
    const csrf = await csrfFrom(admin, url('/admin/failed'));
    const res = await admin.post(url(`/admin/failed/${reconcileId}/retry`), { _csrf: csrf, reason: '  bot role moved above the tiers  ' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/failed');
    await until(() => w.discord.member(s1.user.id)?.roles.includes(ROLE.awakened), 10_000, 'the role given by the retried job');
    await until(() => job(reconcileId).status === 'done', 10_000, 'the retried job done');
    assert.equal(job(reconcileId).attempts, 1, 'a fresh count of attempts');
    assert.equal(job(reconcileId).last_error, null);

    const rows = audit('job.retried');
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(row.actor, `admin:${ADMIN.id}`);
    assert.equal(row.actor_name, 'Ada');
    assert.equal(row.reason, 'bot role moved above the tiers');
    assert.equal(row.discord_id, s1.user.id);
    const details = JSON.parse(row.details!) as Record<string, unknown>;
    assert.equal(details.job, reconcileId);
    assert.equal(details.kind, RECONCILE_JOB);
    assert.equal(details.outcome, 'queued');
    assert.match(String(details.subject), /"Awakened"/);

    const page = await (await admin.get(url('/admin/failed'))).text();
    assert.match(page, new RegExp(`<strong>Queued:</strong> job ${reconcileId} \\(role reconcile, Discord user ${s1.user.id}, role &quot;Awakened&quot;\\) runs again now\\.`));
    assert.ok(!page.includes(`action="/admin/failed/${reconcileId}/retry"`), 'no longer listed');
    const shownOnce = await (await admin.get(url('/admin/failed'))).text();
    assert.doesNotMatch(shownOnce, /Queued:/, 'the flash is shown once');

    const before = snapshot();
    const again = await admin.post(url(`/admin/failed/${reconcileId}/retry`), { _csrf: csrf, reason: 'once more' });
    assert.equal(again.status, 409);
    assert.match(await again.text(), /has not failed for good: it has finished/);
    assert.deepEqual(snapshot(), before);
  });

  test('retrying a job whose work already waits in another job closes the dead one instead', async () => {
    await botBelowRoles(true);
    const s = await linkedSubscriber();
    const dead = await deadJob(RECONCILE_JOB, s.user.id);
    await botBelowRoles(false);
    const waiting = w.app.services.jobs.enqueue(RECONCILE_JOB, s.user.id, { discordId: s.user.id, cause: 'later check' }, { runAt: new Date(Date.now() + 3_600_000) });
    const csrf = await csrfFrom(admin, url('/admin/failed'));
    const res = await admin.post(url(`/admin/failed/${dead.id}/retry`), { _csrf: csrf, reason: 'the waiting job covers it' });
    assert.equal(res.status, 303);
    assert.equal(job(dead.id).status, 'done');
    assert.equal(job(waiting).status, 'pending');
    const row = audit('job.retried').find((r) => JSON.parse(r.details!).job === dead.id)!;
    assert.deepEqual([JSON.parse(row.details!).outcome, JSON.parse(row.details!).supersededBy], ['superseded', waiting]);
    const page = await (await admin.get(url('/admin/failed'))).text();
    assert.match(page, new RegExp(`job ${dead.id} .* was closed: job ${waiting} was already waiting`));
  });

  test('retry all revives every dead job with one audit row listing them', async () => {
    await botBelowRoles(true);
    const a = await linkedSubscriber();
    const b = await linkedSubscriber();
    await deadJob(RECONCILE_JOB, a.user.id);
    await deadJob(RECONCILE_JOB, b.user.id);
    await botBelowRoles(false);
    const deadIds = w.app.services.jobs.dead(1000).map((j) => j.id).sort((x, y) => x - y);
    assert.ok(deadIds.includes(ghostId) && deadIds.length === 3, `dead: ${deadIds.join(', ')}`);

    const csrf = await csrfFrom(admin, url('/admin/failed'));
    const res = await admin.post(url('/admin/failed/retry-all'), { _csrf: csrf, reason: 'bot role fixed' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/failed');
    for (const u of [a, b]) await until(() => w.discord.member(u.user.id)?.roles.includes(ROLE.awakened), 10_000, `roles of ${u.user.id}`);

    const rows = audit('job.retried_all');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, `admin:${ADMIN.id}`);
    assert.equal(rows[0]!.actor_name, 'Ada');
    assert.equal(rows[0]!.reason, 'bot role fixed');
    const details = JSON.parse(rows[0]!.details!) as { count: number; ids: number[] };
    assert.equal(details.count, 3);
    assert.deepEqual([...details.ids].sort((x, y) => x - y), deadIds);
    const page = await (await admin.get(url('/admin/failed'))).text();
    assert.match(page, /<strong>Queued:<\/strong> 3 jobs run again now/);
    // The Ghost note is still too long: that job ran again and failed for good again, on its first fresh attempt.
    await until(() => job(ghostId).status === 'dead' && job(ghostId).updated_at > rows[0]!.at, 10_000, 'the Ghost update failing again');
    assert.equal(job(ghostId).attempts, 1);
  });

  test('signed but invalid deliveries are shown with their problems and the payload as text; refused ones apart', async () => {
    const body = JSON.stringify({ event: 'subscription.created', customer_email: 'not an email', customer_name: '<script>alert(1)</script>', tier: 'awakened', subscription_id: 'sub_bad' });
    assert.equal((await postWebhook(w.app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 422);
    const refused = JSON.stringify({ event: 'subscription.created', customer_email: 'r@example.com', customer_name: 'R', tier: 'mythic', subscription_id: 'sub_mythic' });
    assert.equal((await postWebhook(w.app.url, refused, standardHeaders(WEBHOOK_SECRET, refused))).status, 422);

    const html = await (await staff.get(url('/admin/failed'))).text();
    assert.doesNotMatch(html, /<script>alert/);
    assert.match(html, /id="invalid"/);
    const invalid = html.slice(html.indexOf('id="invalid"'), html.indexOf('id="refused"'));
    assert.match(invalid, /&quot;customer_name&quot;: &quot;&lt;script>alert\(1\)&lt;\/script>&quot;/);
    assert.match(invalid, /<li class="bad">customer_email: [^<]+<\/li>/);
    assert.match(invalid, /<pre>\{\n {2}&quot;event&quot;: &quot;subscription.created&quot;,/);
    assert.match(invalid, /sub_bad/);
    assert.match(invalid, /standard/);
    const refusedPart = html.slice(html.indexOf('id="refused"'));
    assert.match(refusedPart, /sub_mythic/);
    assert.match(refusedPart, /tier: &quot;mythic&quot; is not a tier in roles.json/);
    assert.doesNotMatch(refusedPart, /sub_bad/);
  });
});
