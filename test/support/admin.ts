/** Signing in to the admin panel through the Discord stand-in, and reading the panel's forms. */
import assert from 'node:assert/strict';
import type { FakeUser } from '../../stand-ins/discord.js';
import { Browser, type World } from './world.js';

export const ADMIN: FakeUser = { id: '500000000000000001', username: 'ada', global_name: 'Ada' };
export const STAFF: FakeUser = { id: '500000000000000002', username: 'sam', global_name: 'Sam' };
export const STRANGER: FakeUser = { id: '500000000000000003', username: 'mallory', global_name: 'Mallory' };

/** The environment that puts ADMIN and STAFF on the whitelist. */
export const ADMIN_ENV = { ADMIN_DISCORD_IDS: ADMIN.id, STAFF_DISCORD_IDS: STAFF.id };

/** Signs `user` in to Discord and walks /admin/login to its end; returns the last answer. */
export async function signIn(world: World, browser: Browser, user: FakeUser = ADMIN): Promise<{ hops: string[]; res: Response }> {
  world.discord.addUser(user);
  world.discord.signIn(user.id);
  return browser.follow(`${world.app.url}/admin/login`);
}

/** Signs in and expects to land on the dashboard. */
export async function signedIn(world: World, browser: Browser, user: FakeUser = ADMIN): Promise<void> {
  const { res, hops } = await signIn(world, browser, user);
  assert.equal(res.status, 200, `sign-in ended at ${hops.at(-1)} with ${res.status}`);
  assert.equal(new URL(hops.at(-1)!).pathname, '/admin');
}

/** The CSRF token in a panel page's forms. */
export async function csrfFrom(browser: Browser, url: string): Promise<string> {
  const res = await browser.get(url);
  const html = await res.text();
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(token, `no _csrf field at ${url} (status ${res.status})`);
  return token;
}

/**
 * A subscriber who got the webhook's email and linked `user` through the link (the Discord stand-in signs them in),
 * as a member of the server (joined now unless they are already); returns once the work it queued is done.
 */
export async function linkSubscriber(world: World, fields: { subscription_id: string; customer_email: string; customer_name?: string; tier?: string }, user: FakeUser): Promise<void> {
  world.discord.addUser(user);
  if (!world.discord.member(user.id)) world.discord.memberJoins(user.id, []);
  await world.event(fields);
  const link = await world.linkFor(fields.customer_email);
  world.discord.signIn(user.id);
  const { res, hops } = await new Browser().follow(link);
  assert.equal(new URL(hops.at(-1)!).pathname, '/linked', `linking ended with ${res.status} at ${hops.at(-1)}`);
  await world.settle();
}
