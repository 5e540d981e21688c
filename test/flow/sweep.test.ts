import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RECONCILE_JOB, SWEEP_JOB, SWEEP_KEY } from '../../src/roles/jobs.js';
import { until } from '../support/server.js';
import { ROLE, startWorld, type World } from '../support/world.js';

let next = 800000000000000000n;

function link(w: World, ids: string[]): void {
  const { subscriptions } = w.app.services;
  const now = new Date().toISOString();
  w.app.services.db.transaction(() => {
    for (const id of ids) {
      subscriptions.save({ subscription_id: `sub_${id}`, email: `${id}@example.com`, name: '', tier: 'awakened', status: 'active', last_event_at: now, updated_at: now });
      subscriptions.link(`sub_${id}`, id, now);
    }
  })();
}

/**
 * Members who joined the server with no roles, and then got a linked active subscription each: only a sweep can
 * find that they lack their roles.
 */
async function seedLinked(w: World, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = String(++next);
    w.discord.addUser({ id, username: `member${id}` });
    w.discord.memberJoins(id, []);
    ids.push(id);
  }
  // The gateway delivers joins in order: once a last, linked member's join has queued its reconcile, Arbiter has
  // seen every join before it (and queued nothing for them, as they were not linked yet).
  const last = String(++next);
  w.discord.addUser({ id: last, username: 'last' });
  link(w, [last]);
  w.discord.memberJoins(last, []);
  await until(() => w.discord.member(last)?.roles.includes(ROLE.awakened), 10_000, 'the last join seen');
  await w.settle();
  link(w, ids);
  return ids;
}

const listRequests = (w: World) => w.discord.requests.filter((r) => /\/guilds\/\d+\/members$/.test(r.path) && r.method === 'GET');

test('a sweep of 300 members under small rate-limit buckets repairs everyone, with no dead job and few 429s', { timeout: 120_000 }, async (t) => {
  const w = await startWorld({
    discord: { rateLimits: { perRoute: 10, windowMs: 250, global: 50 } },
    env: { RECONCILE_INTERVAL_MINUTES: '0' },
  });
  t.after(() => w.stop());
  const ids = await seedLinked(w, 300);
  assert.equal(w.app.services.db.prepare(`SELECT COUNT(*) FROM jobs WHERE kind = ?`).pluck().get(RECONCILE_JOB), 1);

  w.app.services.jobs.enqueue(SWEEP_JOB, SWEEP_KEY);
  await until(() => ids.every((id) => w.discord.member(id)?.roles.includes(ROLE.awakened)), 100_000, 'every member repaired');
  await w.settle();
  assert.equal(w.app.services.jobs.counts().dead, 0);
  const stats = w.discord.rateLimitStats();
  const tooMany = stats.tooManyRequests.user + stats.tooManyRequests.global;
  assert.ok(tooMany <= 5, `429s: ${JSON.stringify(stats.tooManyRequests)}`);
  assert.equal(w.app.services.audit.list({ action: 'sweep.completed', limit: 1 })[0]!.details, JSON.stringify({ checked: 301, changes: 300, additions: 300, removals: 0 }));
});

test('a sweep that must wait for the member-list bucket pauses and resumes at the page it reached', { timeout: 60_000 }, async (t) => {
  const w = await startWorld({
    discord: { rateLimits: { routes: { 'GET /guilds/:guild/members': { limit: 2, windowMs: 1500 } } } },
    env: { RECONCILE_INTERVAL_MINUTES: '0' },
    overrides: { discord: { maxInlineWaitMs: 100, memberPage: 50 } },
  });
  t.after(() => w.stop());
  const ids = await seedLinked(w, 150);
  const before = listRequests(w).length;
  // Pages of 50 over every member, in ID order: the bot, the server's owner and the last member are members too.
  const everyone = [...w.discord.memberIds()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const pageEnds = [everyone[49], everyone[99], everyone[149]];

  w.app.services.jobs.enqueue(SWEEP_JOB, SWEEP_KEY);
  // The third page waits for the bucket: the Discord lane pauses instead of failing or starting over.
  await until(() => Object.keys(w.app.services.worker.pauses()).includes('discord'), 10_000, 'lane paused');
  const waiting = w.app.services.db.prepare(`SELECT status, attempts, payload FROM jobs WHERE kind = ?`).get(SWEEP_JOB) as { status: string; attempts: number; payload: string };
  assert.equal(waiting.status, 'pending');
  assert.equal(waiting.attempts, 0);
  assert.equal(JSON.parse(waiting.payload).after, pageEnds[1]);

  await until(() => ids.every((id) => w.discord.member(id)?.roles.includes(ROLE.awakened)), 30_000, 'every member repaired');
  await w.settle();
  // Every page was read once, in order: nothing started over.
  const afters = listRequests(w).slice(before).map((r) => new URLSearchParams(r.query).get('after'));
  assert.deepEqual(afters, ['0', ...pageEnds]);
  assert.equal(w.discord.rateLimitStats().tooManyRequests.user, 0);
  assert.equal(w.app.services.jobs.counts().dead, 0);
  const sweepJob = w.app.services.db.prepare(`SELECT status, attempts FROM jobs WHERE kind = ?`).get(SWEEP_JOB);
  assert.deepEqual(sweepJob, { status: 'done', attempts: 1 });
});
