import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../support/server.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

let next = 900000000000000000n;
const JOIN_PATH = /^\/guilds\/\d+\/members\/\d+$/;
const INVITE = 'https://discord.gg/arbiter-test';

describe('adding a subscriber to the server at sign-in', () => {
  let w: World;
  before(async () => {
    w = await startWorld({
      env: { DISCORD_INVITE_URL: INVITE },
      discord: { rateLimits: { routes: { 'PUT /guilds/:guild/members/:user': { limit: 5, windowMs: 1000 } } } },
    });
  });
  after(() => w.stop());

  let n = 0;
  /** A subscriber who is not in the server yet, with their link. */
  async function outsider() {
    const user = { id: String(++next), username: `joiner${next}` };
    w.discord.addUser(user);
    const email = `j${++n}@example.com`;
    await w.event({ subscription_id: `sub_j${n}`, customer_email: email });
    return { user, email, link: await w.linkFor(email) };
  }
  /** Opens the link and consents on Discord; returns the browser and Discord's redirect back, not yet followed. */
  async function toDiscord(s: { user: { id: string }; link: string }) {
    const browser = new Browser();
    const toDiscord = await browser.get(s.link);
    w.discord.signIn(s.user.id);
    const back = await browser.get(toDiscord.headers.get('location')!);
    return { browser, url: back.headers.get('location')! };
  }
  /** Follows the way back from Discord to the success page and returns its text. */
  async function comeBack({ browser, url }: { browser: Browser; url: string }) {
    const done = await browser.get(url);
    assert.equal(done.status, 303);
    return (await browser.get(new URL(done.headers.get('location')!, w.app.url).toString())).text();
  }
  const signIn = async (s: { user: { id: string }; link: string }) => comeBack(await toDiscord(s));

  test('passing trouble (5xx) is retried within the sign-in, and the member gets their roles', async () => {
    const s = await outsider();
    w.discord.addFault({ method: 'PUT', path: JOIN_PATH, status: 502, times: 2 });
    const page = await signIn(s);
    assert.match(page, /You were added to the server/);
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles');
  });

  test('ten sign-ins in one second all join: the bucket is waited for, not refused locally', async () => {
    const people = [];
    for (let i = 0; i < 10; i++) people.push(await outsider());
    // The stand-in signs in one user at a time; each browser gets to Discord in turn, then all come back at once.
    const returns = [];
    for (const s of people) returns.push(await toDiscord(s));
    const pages = await Promise.all(returns.map(comeBack));
    for (const page of pages) assert.match(page, /You were added to the server/);
    for (const s of people) assert.ok(w.discord.member(s.user.id), `${s.user.id} joined`);
    assert.equal(w.app.services.audit.list({ action: 'link.join_failed' }).length, 0);
  });

  test('the roles are reconciled after the join, not before it', async () => {
    const s = await outsider();
    // The join takes a while; a reconcile that ran before it would find nobody and give up.
    w.discord.addFault({ method: 'PUT', path: JOIN_PATH, delayMs: 700, times: 1 });
    const page = await signIn(s);
    assert.match(page, /You were added to the server/);
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles');
    const reads = w.discord.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/members/${s.user.id}`));
    assert.ok(reads.length >= 1);
    assert.ok(reads.every((r) => r.status === 200), 'no reconcile read the member before the join');
    assert.equal(w.app.services.audit.list({ action: 'roles.waiting_for_member' }).filter((r) => r.discord_id === s.user.id).length, 0);
  });

  // Last: the join bucket stays empty for a minute after this one.
  test('when Discord stays busy, the page says so plainly and offers the invite', async () => {
    const s = await outsider();
    w.discord.addFault({ method: 'PUT', path: JOIN_PATH, status: 429, retryAfter: 60, times: 1 });
    const page = await signIn(s);
    assert.match(page, /Discord is busy/);
    assert.match(page, new RegExp(`href="${INVITE}"`));
    assert.equal(w.discord.member(s.user.id), undefined);
    // Once they join through the invite, the roles follow.
    w.discord.memberJoins(s.user.id, []);
    await until(() => w.discord.member(s.user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles after joining by invite');
  });
});
