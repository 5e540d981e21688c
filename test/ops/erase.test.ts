import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { userInfo } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sqliteAdapter } from '../../src/apps/oidc/adapter.js';
import { createMailer } from '../../src/email/mailer.js';
import { silentLogger } from '../../src/log.js';
import { ADMIN, ADMIN_ENV, csrfFrom, linkSubscriber, signedIn } from '../support/admin.js';
import { arbiter } from '../support/cli.js';
import { WEBHOOK_SECRET } from '../support/config.js';
import { dumpDatabase, filesUnder, traces } from '../support/data-dir.js';
import { until } from '../support/server.js';
import { postWebhook, standardHeaders } from '../support/webhooks.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

const ZELDA = { id: '720000000000000001', username: 'zelda' };
const OTTO = { id: '720000000000000002', username: 'otto' };
const RITA = { id: '720000000000000003', username: 'rita' };
const EMAIL = 'zelda.quill@example.com';
/** The address her subscription had first. */
const OLD_EMAIL = 'zq.first@example.com';
const NAME = 'Zelda Quillfeather';
const OTTO_EMAIL = 'otto.other@example.com';
const RITA_EMAIL = 'rita.running@example.com';
const RITA_NAME = 'Rita Runningwater';
const hashOf = (email: string) => `erased:${createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 16)}`;

/** The CLI's environment: the same settings the running world was given. */
function envOf(w: World): Record<string, string> {
  const c = w.app.services.config;
  return {
    NODE_ENV: 'test',
    DATA_DIR: c.dataDir,
    ROLES_FILE: c.rolesFile,
    WEBHOOK_SECRET,
    SESSION_SECRET: 'test-session-secret-0123456789abcdef0123456789',
    LOG_LEVEL: 'silent',
    DISCORD_CLIENT_ID: c.discord!.clientId,
    DISCORD_CLIENT_SECRET: c.discord!.clientSecret,
    DISCORD_BOT_TOKEN: c.discord!.botToken,
    DISCORD_GUILD_ID: c.discord!.guildId,
    DISCORD_API_URL: c.discord!.apiUrl,
    DISCORD_AUTHORIZE_URL: c.discord!.authorizeUrl,
    CMS_URL: c.ghost!.url,
    CMS_ADMIN_KEY: c.ghost!.adminKey,
    SMTP_HOST: c.smtp!.host,
    SMTP_PORT: String(c.smtp!.port),
  };
}

describe('arbiter erase', () => {
  let w: World;
  let env: Record<string, string>;
  let dataDir: string;
  const admin = new Browser();
  const otherAdmin = new Browser();
  const erase = (...args: string[]) => arbiter(['erase', ...args], env, w.dir.path);
  /** Everything Arbiter keeps: both databases, row by row, and the outbox's file names. */
  const state = () => ({
    arbiter: dumpDatabase(join(dataDir, 'arbiter.db')),
    sessions: dumpDatabase(join(dataDir, 'sessions.db')),
    outbox: filesUnder(join(dataDir, 'outbox')).map((f) => relative(dataDir, f)).sort(),
  });
  const query = <T>(sql: string, ...params: unknown[]): T[] => {
    const db = new Database(join(dataDir, 'arbiter.db'), { readonly: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  };

  before(async () => {
    w = await startWorld({ env: ADMIN_ENV });
    env = envOf(w);
    dataDir = w.app.services.config.dataDir;
    w.ghost.addMember({ email: EMAIL, name: NAME, note: 'Reader since 2021' });
    w.ghost.addMember({ email: OTTO_EMAIL, note: 'Otto' });
    w.ghost.addMember({ email: RITA_EMAIL, name: RITA_NAME });

    // Zelda: a webhook and its email; her subscription moves to another address; an admin grants her a role for a
    // prize (her email in the reason) and resends the link twice (her name in the reason): one admin has seen the
    // flash that names her email (it is gone from the session, but SQLite may keep the bytes), the other has not.
    w.discord.addUser(ZELDA);
    w.discord.memberJoins(ZELDA.id, [ROLE.booster]);
    await w.event({ subscription_id: 'sub_zelda', customer_email: OLD_EMAIL, customer_name: NAME, tier: 'awakened' });
    await w.linkFor(OLD_EMAIL);
    await w.event({ subscription_id: 'sub_zelda', customer_email: EMAIL, event: 'subscription.upgraded', tier: 'ascended' });
    await signedIn(w, admin, ADMIN);
    await signedIn(w, otherAdmin, ADMIN);
    const csrf = await csrfFrom(admin, `${w.app.url}/admin`);
    const grant = await admin.post(`${w.app.url}/admin/members/${ZELDA.id}/grants`, { _csrf: csrf, role_id: ROLE.awakened, reason: `Prize for ${EMAIL}` });
    assert.equal(grant.status, 303);
    const seen = await admin.post(`${w.app.url}/admin/subscriptions/sub_zelda/resend-link`, { _csrf: csrf, reason: `${NAME} says the first email never came` });
    assert.equal(seen.status, 303);
    assert.match(await (await admin.get(`${w.app.url}${seen.headers.get('location')}`)).text(), new RegExp(`Sent a new link to ${EMAIL}`));
    await w.linkFor(EMAIL, 1);
    const otherCsrf = await csrfFrom(otherAdmin, `${w.app.url}/admin`);
    const unseen = await otherAdmin.post(`${w.app.url}/admin/subscriptions/sub_zelda/resend-link`, { _csrf: otherCsrf, reason: 'Asked again by phone' });
    assert.equal(unseen.status, 303);
    const link = await w.linkFor(EMAIL, 2);
    w.discord.signIn(ZELDA.id);
    const { hops } = await new Browser().follow(link);
    assert.equal(new URL(hops.at(-1)!).pathname, '/linked');
    await until(() => w.discord.member(ZELDA.id)?.roles.includes(ROLE.ascended), 10_000, 'Zelda roles');
    await until(() => w.ghost.member(EMAIL)?.note?.includes(`discord_id: ${ZELDA.id}`), 10_000, 'Zelda Ghost note');
    // A signed delivery naming her that could not be applied: kept with its payload for admins.
    const invalid = JSON.stringify({ event: 'subscription.created', customer_email: EMAIL, customer_name: NAME, tier: 'awakened' });
    assert.equal((await postWebhook(w.app.url, invalid, standardHeaders(WEBHOOK_SECRET, invalid))).status, 422);

    await linkSubscriber(w, { subscription_id: 'sub_otto', customer_email: OTTO_EMAIL, tier: 'awakened' }, OTTO);
    await linkSubscriber(w, { subscription_id: 'sub_rita', customer_email: RITA_EMAIL, customer_name: RITA_NAME, tier: 'awakened' }, RITA);
    await until(() => w.ghost.member(OTTO_EMAIL)?.note?.includes(`discord_id: ${OTTO.id}`), 10_000, 'Otto Ghost note');
    await until(() => w.ghost.member(RITA_EMAIL)?.note?.includes(`discord_id: ${RITA.id}`), 10_000, 'Rita Ghost note');

    // Signed in to another app through Arbiter's OpenID Connect provider, as the provider stores it: Zelda and Otto.
    const oidc = sqliteAdapter(w.app.services.db, w.app.services.clock);
    for (const [person, name] of [[ZELDA, NAME], [OTTO, 'Otto Other']] as const) {
      await oidc('Account').upsert(person.id, { username: person.username, name }, 3600);
      await oidc('Session').upsert(`session-${person.username}`, { accountId: person.id, uid: `uid-${person.username}` }, 3600);
      await oidc('Grant').upsert(`grant-${person.username}`, { accountId: person.id, clientId: 'wiki' }, 3600);
      await oidc('AccessToken').upsert(`token-${person.username}`, { accountId: person.id, grantId: `grant-${person.username}` }, 3600);
      await oidc('Interaction').upsert(`interaction-${person.username}`, { result: { login: { accountId: person.id } } }, 3600);
    }

    // Mail as Arbiter writes it without SMTP_HOST (development).
    const outbox = createMailer({ smtp: null, emailFrom: 'Arbiter <arbiter@example.test>', dataDir }, silentLogger());
    await outbox.send({ to: EMAIL, subject: 'Connect your Discord account', text: `Hello ${NAME}`, html: `<p>Hello ${NAME}</p>` });
    await outbox.send({ to: OTTO_EMAIL, subject: 'Connect your Discord account', text: 'Hello Otto', html: '<p>Hello Otto</p>' });
    await w.settle();
  });
  after(() => w.stop());

  test('while Arbiter runs: the subscriber is erased and Arbiter keeps working', async () => {
    const run = await erase(RITA_EMAIL, '--yes');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(w.discord.member(RITA.id)!.roles, []);
    assert.ok(!w.ghost.member(RITA_EMAIL)!.note?.includes('discord_id'));
    const rita = w.app.services.subscriptions.get('sub_rita')!;
    assert.equal(rita.email, hashOf(RITA_EMAIL));
    assert.equal(rita.discord_id, null);

    await w.event({ subscription_id: 'sub_after', customer_email: 'after@example.com', tier: 'awakened' });
    assert.equal(w.app.services.subscriptions.get('sub_after')?.email, 'after@example.com');
    await w.settle();
    // The sweep and reconciles find nothing to give back.
    assert.deepEqual(w.discord.member(RITA.id)!.roles, []);
  });

  test('without --yes it prints the plan, exits 0 and changes nothing', async () => {
    await w.app.stop();
    const before = state();
    const run = await erase(EMAIL);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /sub_zelda/);
    assert.match(run.stdout, new RegExp(`Discord user ${ZELDA.id}`));
    assert.match(run.stdout, /Nothing was changed\. Run again with --yes to erase\./);
    assert.deepEqual(state(), before);
  });

  test('erase --yes: managed roles off Discord, the ID off Ghost, and no trace of the email or name in any file', async () => {
    const run = await erase(EMAIL.toUpperCase(), '--yes');
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const hash = hashOf(EMAIL);
    assert.match(run.stdout, new RegExp(hash));

    // Discord: the managed roles are gone, the role Arbiter does not manage stays.
    assert.deepEqual(w.discord.member(ZELDA.id)!.roles, [ROLE.booster]);
    const removals = w.discord.roleChanges.filter((c) => c.userId === ZELDA.id && c.action === 'remove' && c.by === 'bot');
    assert.deepEqual(removals.map((c) => c.roleId).sort(), [ROLE.awakened, ROLE.ascended].sort());
    assert.ok(removals.every((c) => /erase/i.test(c.reason ?? '')));
    // Ghost: the rest of the note is hers to keep.
    const member = w.ghost.member(EMAIL)!;
    assert.equal(member.note, 'Reader since 2021');
    assert.ok(!member.labels.some((l) => l.name === 'discord'));

    assert.deepEqual(traces(dataDir, [EMAIL, 'zelda.quill', OLD_EMAIL, NAME, 'Quillfeather', RITA_EMAIL, 'Runningwater']), []);

    const [subscription] = query<{ email: string; name: string; discord_id: string | null }>(`SELECT * FROM subscriptions WHERE subscription_id = 'sub_zelda'`);
    assert.equal(subscription!.email, hash);
    assert.equal(subscription!.name, '');
    assert.equal(subscription!.discord_id, null);
    assert.equal(query(`SELECT * FROM link_tokens WHERE subscription_id = 'sub_zelda'`).length, 0);
    const grants = query<{ revoked_at: string | null; revoked_by: string; reason: string }>(`SELECT * FROM role_grants WHERE discord_id = ?`, ZELDA.id);
    assert.equal(grants.length, 1);
    assert.ok(grants[0]!.revoked_at);
    assert.equal(grants[0]!.revoked_by, `cli:${userInfo().username}`);
    assert.equal(grants[0]!.reason, `Prize for ${hash}`);

    const audit = query<{ actor: string; action: string; email: string | null; reason: string | null; details: string | null }>(`SELECT * FROM audit_logs ORDER BY id`);
    const erased = audit.filter((r) => r.action === 'subscriber.erased');
    assert.equal(erased.length, 2, 'Rita and Zelda');
    const mine = erased.find((r) => r.email === hash)!;
    assert.equal(mine.actor, `cli:${userInfo().username}`);
    const counts = JSON.parse(mine.details!) as Record<string, number>;
    assert.equal(counts.subscriptions, 1);
    assert.ok(counts.auditRows! > 3 && counts.deliveries! >= 2 && counts.sessions! >= 1 && counts.outboxFiles === 2, mine.details!);
    assert.equal(counts.oidcRecords, 5);
    const oidcLeft = query<{ id: string }>(`SELECT id FROM oidc_store ORDER BY id`).map((r) => r.id);
    assert.deepEqual(oidcLeft, [OTTO.id, 'grant-otto', 'interaction-otto', 'session-otto', 'token-otto'], 'only Otto stays signed in to other apps');
    assert.ok(audit.some((r) => r.action === 'link.resend_requested' && r.email === hash && r.reason === `${hash} says the first email never came`));
    // The log stays append-only.
    const db = new Database(join(dataDir, 'arbiter.db'));
    try {
      assert.throws(() => db.prepare(`UPDATE audit_logs SET reason = 'x'`).run(), /append-only/);
      assert.throws(() => db.prepare(`DELETE FROM audit_logs`).run(), /append-only/);
    } finally {
      db.close();
    }

    // Nobody else was touched.
    assert.equal(query<{ email: string }>(`SELECT email FROM subscriptions WHERE subscription_id = 'sub_otto'`)[0]!.email, OTTO_EMAIL);
    assert.deepEqual(w.discord.member(OTTO.id)!.roles, [ROLE.awakened]);
    assert.equal(filesUnder(join(dataDir, 'outbox')).length, 2, "Otto's mail stays");
  });

  test('an unknown email is said to be unknown; nothing changes', async () => {
    const before = state();
    const run = await erase('nobody@example.com', '--yes');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Nothing is stored about nobody@example\.com/);
    assert.deepEqual(state(), before);
    const bad = await erase('not an email', '--yes');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not an email address/);
  });

  test('when Discord or Ghost cannot be reached it refuses and changes nothing', async () => {
    const before = state();
    w.discord.addFault({ status: 503, times: Infinity });
    try {
      const run = await erase(OTTO_EMAIL, '--yes');
      assert.equal(run.code, 1);
      assert.match(run.stderr, /Discord/);
      assert.match(run.stderr, /Nothing was changed/);
      assert.match(run.stderr, /--local-only/);
    } finally {
      w.discord.clearFaults();
    }
    w.ghost.setDown(true);
    try {
      const run = await erase(OTTO_EMAIL, '--yes');
      assert.equal(run.code, 1);
      assert.match(run.stderr, /Ghost/);
      assert.match(run.stderr, /Nothing was changed/);
    } finally {
      w.ghost.setDown(false);
    }
    assert.deepEqual(state(), before);
    assert.deepEqual(w.discord.member(OTTO.id)!.roles, [ROLE.awakened]);
    assert.ok(w.ghost.member(OTTO_EMAIL)!.note?.includes(`discord_id: ${OTTO.id}`));
  });

  test('--local-only erases here when Discord cannot be reached, and says what is left there', async () => {
    w.discord.addFault({ status: 503, times: Infinity });
    try {
      const run = await erase(OTTO_EMAIL, '--yes', '--local-only');
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`Left on Discord: .*${OTTO.id}`));
    } finally {
      w.discord.clearFaults();
    }
    assert.deepEqual(w.discord.member(OTTO.id)!.roles, [ROLE.awakened], 'Discord was not reached');
    assert.ok(!w.ghost.member(OTTO_EMAIL)!.note?.includes('discord_id'), 'Ghost was reached');
    assert.equal(query<{ email: string }>(`SELECT email FROM subscriptions WHERE subscription_id = 'sub_otto'`)[0]!.email, hashOf(OTTO_EMAIL));
    assert.deepEqual(traces(dataDir, [OTTO_EMAIL]), []);
  });
});
