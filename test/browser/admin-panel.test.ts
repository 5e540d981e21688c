import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ADMIN, ADMIN_ENV } from '../support/admin.js';
import { launchChromium } from '../support/chromium.js';
import { ROLE, startWorld } from '../support/world.js';

const KAI = { id: '700000000000000002', username: 'kai', global_name: 'Kai' };

/** Screenshots go to the test's temp dir; SCREENSHOT_DIR keeps a copy to look at. */
function shooter(dir: string) {
  const shots = join(dir, 'screenshots');
  mkdirSync(shots, { recursive: true });
  return {
    async take(page: Page, name: string) {
      await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    },
    keep() {
      if (process.env.SCREENSHOT_DIR) cpSync(shots, process.env.SCREENSHOT_DIR, { recursive: true });
    },
  };
}

async function noHorizontalScroll(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test('an admin finds a subscriber, reads why they hold a role, grants one, reads the audit log and retries a dead job, in a real browser', { timeout: 90_000 }, async (t) => {
  const w = await startWorld({ env: ADMIN_ENV, discord: { consent: 'page' } });
  const shots = shooter(w.dir.path);
  t.after(async () => {
    shots.keep();
    await w.stop();
  });
  const browser = await launchChromium();
  t.after(() => browser.close());

  // Kai links in their own browser.
  w.discord.addUser(KAI);
  w.discord.memberJoins(KAI.id, [ROLE.booster]);
  await w.event({ subscription_id: 'sub_kai', customer_email: 'kai.lindqvist@example.com', customer_name: 'Kai <b>Lindqvist</b>', tier: 'awakened' });
  w.discord.signIn(KAI.id);
  const kai = await browser.newContext();
  const kaiPage = await kai.newPage();
  await kaiPage.goto(await w.linkFor('kai.lindqvist@example.com'));
  await kaiPage.getByRole('button', { name: /authori[sz]e/i }).click();
  await kaiPage.waitForURL(/\/linked$/);
  await kai.close();
  await w.settle();

  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });

  // Sign in through the stand-in's consent page.
  w.discord.addUser(ADMIN);
  w.discord.signIn(ADMIN.id);
  await page.goto(`${w.app.url}/admin`);
  assert.ok(page.url().startsWith(w.discord.url), `expected Discord's consent page, got ${page.url()}`);
  await page.getByRole('button', { name: /authori[sz]e/i }).click();
  await page.waitForURL(`${w.app.url}/admin`);
  assert.equal(await page.locator('h1').textContent(), 'Dashboard');
  await shots.take(page, 'dashboard');

  // Search by part of the email.
  await page.getByLabel('Find a member').fill('LINDQVIST@');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/\/admin\/members\?q=/);
  await shots.take(page, 'search');
  assert.equal(await page.locator('tbody tr').count(), 1);
  await page.getByRole('link', { name: KAI.id }).click();
  await page.waitForURL(`${w.app.url}/admin/members/${KAI.id}`);

  // Why they hold each role.
  const awakened = page.locator('tbody tr', { hasText: 'Awakened' }).first();
  assert.match((await awakened.textContent()) ?? '', /tier awakened of subscription sub_kai/);
  const booster = page.locator('tbody tr', { hasText: 'Server Booster' }).first();
  assert.match((await booster.textContent()) ?? '', /not managed by Arbiter/);
  await shots.take(page, 'member');

  // Grant a role with a reason and an end date.
  const end = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  await page.selectOption('#grant-role', ROLE.ascended);
  await page.fill('#grant-expires', end);
  await page.fill('#grant-reason', 'Winner of the <b>spring</b> event');
  await page.getByRole('button', { name: 'Grant the role' }).click();
  await page.waitForURL(`${w.app.url}/admin/members/${KAI.id}`);
  assert.match((await page.locator('.flash').textContent()) ?? '', /Done:.*added Ascended/);
  assert.ok(w.discord.member(KAI.id)!.roles.includes(ROLE.ascended), 'the role is on the stand-in guild');
  const ascended = page.locator('tbody tr', { hasText: 'Ascended' }).first();
  assert.match((await ascended.textContent()) ?? '', new RegExp(`granted by Ada until ${end}: Winner of the <b>spring</b> event`));
  await shots.take(page, 'granted');

  // ... and in the audit log.
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByLabel('Discord ID').fill(KAI.id);
  await page.getByRole('button', { name: /filter|show/i }).click();
  const grantRow = page.locator('tbody tr', { hasText: 'grant.added' });
  assert.equal(await grantRow.count(), 1);
  assert.match((await grantRow.textContent()) ?? '', /Ada \(500000000000000001\)[\s\S]*Winner of the <b>spring<\/b> event/);
  await shots.take(page, 'audit');

  // A reconcile that fails for good (the bot's role sits below the roles it must give), then a retry once fixed.
  w.discord.setBotPermissions({ rolePosition: 1 });
  w.discord.setMemberRoles(KAI.id, [ROLE.booster]);
  await page.goto(`${w.app.url}/admin/members/${KAI.id}`);
  await page.fill('#reconcile-reason', 'roles went missing');
  await page.getByRole('button', { name: 'Reconcile now' }).click();
  await page.waitForURL(`${w.app.url}/admin/members/${KAI.id}`);
  assert.match((await page.locator('.flash').textContent()) ?? '', /Failed:/);
  w.discord.setBotPermissions({ rolePosition: 10 });
  await page.getByRole('link', { name: 'Failed work' }).click();
  await shots.take(page, 'failed');
  const dead = page.locator('#dead tbody tr').first();
  assert.match((await dead.textContent()) ?? '', /Role reconcile/);
  await dead.getByLabel('Reason').fill('bot role moved back up');
  await dead.getByRole('button', { name: /Retry job/ }).click();
  await page.waitForURL(`${w.app.url}/admin/failed`);
  assert.match((await page.locator('.flash').textContent()) ?? '', /Queued:/);
  await w.settle();
  assert.deepEqual(w.discord.member(KAI.id)!.roles.sort(), [ROLE.awakened, ROLE.ascended, ROLE.booster].sort());

  // A phone-sized screen: no horizontal scroll on any page seen so far.
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ['/admin', '/admin/members?q=kai', `/admin/members/${KAI.id}`, '/admin/subscriptions/sub_kai', `/admin/audit?discord=${KAI.id}`, '/admin/failed']) {
    await page.goto(`${w.app.url}${path}`);
    await shots.take(page, `360${path.replace(/[^a-z0-9]+/gi, '-')}`);
    assert.ok(await noHorizontalScroll(page), `horizontal scroll at 360 px on ${path}`);
  }
  await shots.take(page, 'member-360');
  assert.deepEqual(problems, [], 'no console errors (a CSP violation would show here)');
});
