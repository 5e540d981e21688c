import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMBER_CACHE_LIMIT } from '../../src/discord/bot.js';
import { until } from '../support/server.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

let next = 700000000000000000n;
const newUser = () => ({ id: String(++next), username: `user${next}` });

describe('Discord trouble', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(() => w.stop());

  let n = 0;
  async function linked(options: { inServer?: boolean } = {}) {
    const user = newUser();
    w.discord.addUser(user);
    if (options.inServer ?? true) w.discord.memberJoins(user.id, []);
    const email = `d${++n}@example.com`;
    const sub = `sub_d${n}`;
    await w.event({ subscription_id: sub, customer_email: email });
    w.discord.signIn(user.id);
    const { res } = await new Browser().follow(await w.linkFor(email));
    assert.equal(res.status, 200);
    return { user, email, sub };
  }
  /** The details part of /health, which a request from this machine gets. */
  const health = async () => ((await (await fetch(`${w.app.url}/health`)).json()) as { details: { discord: Record<string, unknown> & { problems: string[] } } }).details;

  test('one 401 does not break the bot: the token is kept, the lane waits, /health says so in words, and roles land', async () => {
    const rolePath = /\/guilds\/\d+\/members\/\d+\/roles\//;
    w.discord.addFault({ method: 'PUT', path: rolePath, status: 401, body: { message: '401: Unauthorized', code: 0 }, times: 1 });
    const s = await linked();
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'role after the 401');
    await w.settle();
    const job = w.app.services.db.prepare(`SELECT status, attempts FROM jobs WHERE kind = 'reconcile' AND key = ? ORDER BY id DESC`).get(s.user.id) as { status: string; attempts: number };
    assert.deepEqual(job, { status: 'done', attempts: 1 });
    const rejected = w.app.services.audit.list({ action: 'discord.token_rejected' });
    assert.equal(rejected.length, 1);
    assert.match(rejected[0]!.reason ?? '', /DISCORD_BOT_TOKEN/);
    // Later calls carried the token again, and the problem is gone once Discord accepts it.
    assert.ok(w.discord.requests.filter((r) => rolePath.test(r.path) && r.status === 204).every((r) => r.headers.authorization === `Bot ${'fake-bot-token-0123456789abcdef'}`));
    assert.equal((await health()).discord.token, 'ok');
  });

  test('while the bot token is rejected, /health says so in plain words and no job is burned', async () => {
    w.discord.addFault({ path: /\/guilds\/\d+\/members\/\d+$/, method: 'GET', status: 401, body: { message: '401: Unauthorized', code: 0 }, times: Infinity });
    try {
      const s = await linked();
      await until(async () => (await health()).discord.token === 'rejected', 10_000, 'token reported as rejected');
      const body = await health();
      assert.ok(body.discord.problems.some((p) => /rejected the bot token/.test(p) && /DISCORD_BOT_TOKEN/.test(p)), JSON.stringify(body.discord));
      const short = (await (await fetch(`${w.app.url}/health`)).json()) as { discord: string };
      assert.equal(short.discord, 'down');
      // Between two tries the job waits as pending, with no attempt spent, however often it was tried.
      const job = await until(() => {
        const row = w.app.services.db.prepare(`SELECT status, attempts FROM jobs WHERE kind = 'reconcile' AND key = ?`).get(s.user.id) as { status: string; attempts: number };
        return row.status === 'pending' && row;
      }, 10_000, 'job waiting');
      assert.equal(job.attempts, 0);
      assert.ok(w.discord.requests.filter((r) => r.status === 401).length >= 2);
      assert.equal(w.app.services.jobs.counts().dead, 0);
      w.discord.clearFaults();
      await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles once the token works');
    } finally {
      w.discord.clearFaults();
    }
  });

  test('a refused join names the missing Create Invite permission, not Manage Roles', async () => {
    w.discord.addFault({ method: 'PUT', path: /\/guilds\/\d+\/members\/\d+$/, status: 403, body: { message: 'Missing Permissions', code: 50013 } });
    const s = await linked({ inServer: false });
    const failed = w.app.services.audit.list({ action: 'link.join_failed' }).find((r) => r.discord_id === s.user.id)!;
    assert.match(failed.reason ?? '', /Create Invite/);
    assert.doesNotMatch(failed.reason ?? '', /Manage Roles/);
  });

  test('the bot keeps a bounded number of members and users in memory, however many join', async () => {
    const joined: string[] = [];
    for (let i = 0; i < MEMBER_CACHE_LIMIT + 100; i++) {
      const user = newUser();
      w.discord.addUser(user);
      w.discord.memberJoins(user.id, []);
      joined.push(user.id);
    }
    const cache = () => (w.app.services.discord!.bot.health() as { cache: { members: number; users: number } }).cache;
    // The last join has been seen once its member is in the cache.
    await until(() => w.app.services.discord!.bot.health() && cache().members >= MEMBER_CACHE_LIMIT, 10_000, 'joins seen');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(cache().members <= MEMBER_CACHE_LIMIT, JSON.stringify(cache()));
    assert.ok(cache().users <= MEMBER_CACHE_LIMIT + 10, JSON.stringify(cache()));
  });
});
