import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launchChromium } from '../support/chromium.js';
import { until } from '../support/server.js';
import { ROLE, startWorld } from '../support/world.js';

test('a subscriber links in a real browser: email link, Discord consent page, success page', { timeout: 60_000 }, async (t) => {
  const w = await startWorld({ discord: { consent: 'page' } });
  t.after(() => w.stop());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const user = { id: '700000000000000001', username: 'grace', global_name: 'Grace <b>Hopper</b>' };
  w.discord.addUser(user);
  w.discord.memberJoins(user.id, []);
  w.discord.signIn(user.id);
  await w.event({ subscription_id: 'sub_browser', customer_email: 'grace@example.com', customer_name: 'Grace <img src=x onerror=alert(1)>', tier: 'ascended' });
  const link = await w.linkFor('grace@example.com');

  const page = await browser.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(link);
  assert.ok(page.url().startsWith(w.discord.url), `expected the Discord consent page, got ${page.url()}`);
  await page.getByRole('button', { name: /authori[sz]e/i }).click();
  await page.waitForURL(/\/linked$/);
  assert.equal(await page.locator('h1').textContent(), 'Your Discord account is connected');
  const roles = await page.locator('ul.roles li').allTextContents();
  assert.deepEqual(roles.sort(), ['Ascended', 'Awakened']);
  await page.screenshot({ path: join(w.dir.path, 'linked.png') });
  await until(() => w.discord.member(user.id)?.roles.includes(ROLE.ascended), 10_000, 'roles');

  // The spent link now shows the friendly page, and its form asks for a new link.
  await page.goto(link);
  assert.match((await page.locator('h1').textContent()) ?? '', /already used/);
  await page.getByRole('link', { name: /new link/i }).click();
  await page.fill('input[name=email]', 'grace@example.com');
  await page.getByRole('button', { name: /send me a new link/i }).click();
  assert.match((await page.locator('main').textContent()) ?? '', /new link is on its way/);
  assert.equal((await page.locator('main').textContent())?.includes('grace@example.com'), true);
  await w.linkFor('grace@example.com', 2);
  assert.deepEqual(dialogs, []);
});
