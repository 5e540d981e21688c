import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { tempDir } from '../support/config.js';
import { until } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `npm run demo`'s command on free ports and reads the block it prints once everything is up. */
function startDemo() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), DEMO_PORT_BASE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const ready = new Promise<string>((done, fail) => {
    child.stdout.on('data', () => {
      if (out.includes('Ctrl-C stops everything')) done(out);
    });
    child.once('exit', (code) => fail(new Error(`the demo exited (${code}) before it was ready:\n${out}\n${err}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited, output: () => `${out}\n${err}` };
}

function urlAfter(block: string, label: string): string {
  const match = new RegExp(`${label}\\s+(http://127\\.0\\.0\\.1:\\d+\\S*)`).exec(block);
  assert.ok(match, `no "${label}" URL in:\n${block}`);
  return match[1]!;
}

function refused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
  });
}

/** The roles of one member on the guild page, reloading until `want` holds (Arbiter applies changes in the background). */
async function rolesOf(page: Page, name: string, want: (roles: string) => boolean): Promise<string> {
  const found = await until(async () => {
    await page.reload();
    const row = page.locator('#members tbody tr', { hasText: name });
    if ((await row.count()) !== 1) return false;
    const roles = (await row.locator('td.roles').textContent()) ?? '';
    return want(roles) && { roles };
  }, 15_000, `${name}'s roles on the guild page`);
  return found.roles;
}

test('npm run demo starts everything; a newcomer links, signs in as the admin and changes the subscription in a real browser; Ctrl-C stops it all', { timeout: 120_000 }, async (t) => {
  const demo = startDemo();
  // After a failure, the demo still gets to stop by itself (removing its data); it is killed only if it hangs.
  t.after(async () => {
    if (demo.child.exitCode !== null || demo.child.signalCode !== null) return;
    demo.child.kill('SIGINT');
    const killer = setTimeout(() => demo.child.kill('SIGKILL'), 20_000);
    await demo.exited;
    clearTimeout(killer);
  });
  const block = await demo.ready;
  const inbox = urlAfter(block, 'Inbox');
  const guild = urlAfter(block, 'Discord server');
  const admin = urlAfter(block, 'Admin panel');
  const discord = urlAfter(block, 'Discord');
  const ports = [...new Set([...block.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
  assert.ok(ports.length >= 6, `every server's port is printed: ${ports.join(', ')}`);
  assert.match(block, /Ada Lovelace/);

  // DEMO_SCREENSHOTS=docs writes the README's screenshots; otherwise they go to a temp dir that is removed.
  let shots: string;
  if (process.env.DEMO_SCREENSHOTS) shots = resolve(ROOT, process.env.DEMO_SCREENSHOTS);
  else {
    const temp = tempDir('arbiter-demo-shots-');
    t.after(() => temp.remove());
    shots = temp.path;
  }
  mkdirSync(shots, { recursive: true });
  const shoot = async (page: Page, name: string) => {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, type: 'png' });
    assert.ok(statSync(path).size < 150_000, `${name}.png is small`);
  };

  const browser = await launchChromium();
  t.after(() => browser.close());
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${page.url()}: ${m.text()}`);
    });
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    return page;
  };

  // The subscriber: the link email waits in the inbox.
  const subscriber = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = watch(await subscriber.newPage());
  await page.goto(inbox);
  const row = page.locator('tbody tr', { hasText: 'grace@example.com' });
  assert.equal(await row.count(), 1);
  await row.getByRole('link').click();
  await page.waitForURL(/\/messages\/\d+$/);
  assert.match((await page.locator('pre').textContent()) ?? '', /\/link\/[A-Za-z0-9_-]{43}/);
  await page.frameLocator('iframe').getByText('Connect Discord').waitFor();
  await shoot(page, 'demo-inbox');
  await page.frameLocator('iframe').getByRole('link', { name: 'Connect Discord' }).click();
  await page.waitForURL((url) => url.toString().startsWith(discord));
  await page.getByLabel(/Grace Hopper/).check();
  await page.getByRole('button', { name: /authori[sz]e/i }).click();
  await page.waitForURL(/\/linked$/);
  assert.equal(await page.locator('h1').textContent(), 'Your Discord account is connected');
  assert.deepEqual(await page.locator('ul.roles li').allTextContents(), ['Awakened']);

  // The guild page shows the roles the subscriber was given.
  await page.goto(guild);
  assert.match(await rolesOf(page, 'Grace Hopper', (r) => r.includes('Awakened')), /^(?!.*Ascended)/);
  await shoot(page, 'demo-guild');

  // The admin signs in through the same consent page and finds the subscriber.
  const staff = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const adminPage = watch(await staff.newPage());
  await adminPage.goto(admin);
  assert.ok(adminPage.url().startsWith(discord), `expected the consent page, got ${adminPage.url()}`);
  await adminPage.getByLabel(/Ada Lovelace/).check();
  await adminPage.getByRole('button', { name: /authori[sz]e/i }).click();
  await adminPage.waitForURL(admin);
  assert.equal(await adminPage.locator('h1').textContent(), 'Dashboard');
  await adminPage.getByLabel('Find a member').fill('grace');
  await adminPage.getByRole('button', { name: 'Search' }).click();
  await adminPage.waitForURL(/\/admin\/members\?q=/);
  assert.match((await adminPage.locator('tbody').textContent()) ?? '', /grace@example\.com/);
  await adminPage.locator('tbody tr', { hasText: 'grace@example.com' }).getByRole('link', { name: /^\d{17,20}$/ }).click();
  await adminPage.waitForURL(/\/admin\/members\/\d+$/);
  assert.match((await adminPage.locator('main').textContent()) ?? '', /sub_demo/);
  await shoot(adminPage, 'demo-admin');

  // Billing events from the demo page: an upgrade adds Ascended, a cancel takes both roles away.
  await page.goto(guild);
  await page.getByRole('button', { name: /upgrade/i }).click();
  await page.waitForURL(guild);
  assert.match((await page.locator('#sent tbody tr').first().textContent()) ?? '', /subscription\.upgraded[\s\S]*200[\s\S]*accepted/);
  await rolesOf(page, 'Grace Hopper', (r) => r.includes('Ascended') && r.includes('Awakened'));
  await page.getByRole('button', { name: /cancel/i }).click();
  await page.waitForURL(guild);
  assert.match((await page.locator('#sent tbody tr').first().textContent()) ?? '', /subscription\.cancelled[\s\S]*200/);
  await rolesOf(page, 'Grace Hopper', (r) => !r.includes('Awakened') && !r.includes('Ascended'));
  assert.deepEqual(problems, [], 'no console errors (a CSP violation would show here) and no dialogs');

  await browser.close();
  demo.child.kill('SIGINT');
  assert.equal(await demo.exited, 0, demo.output());
  for (const port of ports) assert.ok(await refused(port), `port ${port} is closed`);
  assert.match(demo.output(), /removed/i, 'says what happened to its data');
});
