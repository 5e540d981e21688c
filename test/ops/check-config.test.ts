import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { arbiter, type CliRun } from '../support/cli.js';
import { freePort, startWorld, WORLD_TIERS, type World } from '../support/world.js';

let w: World;
before(async () => {
  w = await startWorld({ env: { RECONCILE_INTERVAL_MINUTES: '0' } });
});
after(() => w.stop());

const check = (env: Record<string, string> = {}) => arbiter(['check-config'], { ...w.env, ...env }, w.dir.path);

/** The secrets of the settings, none of which may ever be printed. */
function assertNoSecret(run: CliRun): void {
  const ghostSecret = w.env.CMS_ADMIN_KEY!.split(':')[1]!;
  for (const secret of [w.env.DISCORD_BOT_TOKEN!, w.env.DISCORD_CLIENT_SECRET!, ghostSecret, 'wrong-bot-token-0123456789abcdef', 'wrong-client-secret']) {
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), 'a secret was printed');
  }
}

test('against working services every check is ok, one line each, and it exits 0', async () => {
  const run = await check();
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (const what of ['Settings', 'SMTP', 'Discord bot token', 'Discord server', 'Discord roles', 'Discord OAuth', 'Ghost']) {
    assert.match(run.stdout, new RegExp(`^ok +${what}`, 'm'), what);
  }
  assert.doesNotMatch(run.stdout, /^problem/m);
  assert.match(run.stdout, /All checks passed/);
  assertNoSecret(run);
});

test('a bot token Discord rejects: exit 1, naming DISCORD_BOT_TOKEN', async () => {
  const run = await check({ DISCORD_BOT_TOKEN: 'wrong-bot-token-0123456789abcdef' });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^problem +Discord bot token: DISCORD_BOT_TOKEN was rejected by Discord \(401\)/m);
  assert.match(run.stdout, /^ok +SMTP/m);
  assertNoSecret(run);
});

test('a client secret Discord rejects: exit 1, naming DISCORD_CLIENT_SECRET', async () => {
  const run = await check({ DISCORD_CLIENT_SECRET: 'wrong-client-secret' });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^problem +Discord OAuth: .*DISCORD_CLIENT_SECRET.*\(401 invalid_client\)/m);
  assert.match(run.stdout, /^ok +Discord bot token/m);
  assertNoSecret(run);
});

test('a server the bot is not in, and a role roles.json names that the server lacks', async () => {
  const rolesFile = join(w.dir.path, 'roles-missing.json');
  writeFileSync(rolesFile, JSON.stringify({ tiers: { ...WORLD_TIERS, gone: ['300000000000000077'] } }));
  const missing = await check({ ROLES_FILE: rolesFile });
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /^problem +Discord roles: Role 300000000000000077 in config\/roles.json does not exist on the server/m);

  const elsewhere = await check({ DISCORD_GUILD_ID: '200000000000000099' });
  assert.equal(elsewhere.code, 1);
  assert.match(elsewhere.stdout, /^problem +Discord server: .*DISCORD_GUILD_ID/m);
});

test('a role above the bot is named as a problem', async () => {
  const rolesFile = join(w.dir.path, 'roles-high.json');
  writeFileSync(rolesFile, JSON.stringify({ tiers: { ...WORLD_TIERS, staff: [w.discord.botRoleId] } }));
  const run = await check({ ROLES_FILE: rolesFile });
  assert.equal(run.code, 1);
  assert.match(run.stdout, /^problem +Discord roles: The role ".+" is not below the bot's highest role/m);
  assert.match(run.stdout, /^ok +Discord server/m);
});

test('a Ghost key Ghost does not know: exit 1, naming CMS_ADMIN_KEY', async () => {
  const run = await check({ CMS_ADMIN_KEY: `${'a'.repeat(24)}:${'b'.repeat(64)}` });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^problem +Ghost: CMS_ADMIN_KEY was rejected by Ghost \(401/m);
  assert.doesNotMatch(run.stdout, /b{64}/);
});

test('an SMTP port nobody listens on: exit 1, naming SMTP_HOST and SMTP_PORT', async () => {
  const port = await freePort();
  const run = await check({ SMTP_PORT: String(port) });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`^problem +SMTP: nothing answered at 127\\.0\\.0\\.1:${port}.*SMTP_HOST.*SMTP_PORT`, 'm'));
});

test('Discord and Ghost that do not answer: the address settings are named', async () => {
  const port = await freePort();
  const run = await check({ DISCORD_API_URL: `http://127.0.0.1:${port}/api`, CMS_URL: `http://127.0.0.1:${port}` });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^problem +Discord bot token: .*ECONNREFUSED.*Check DISCORD_API_URL/m);
  assert.match(run.stdout, /^skipped +Discord server: not checked: Discord has to answer first/m);
  assert.match(run.stdout, /^problem +Discord OAuth: .*ECONNREFUSED.*Check DISCORD_API_URL/m);
  assert.match(run.stdout, /^problem +Ghost: .*ECONNREFUSED.*Check CMS_URL/m);
});

test('without SMTP_HOST in development it says mail goes to files, and Ghost not configured is no problem', async () => {
  const { SMTP_HOST: _host, CMS_URL: _url, CMS_ADMIN_KEY: _key, ...rest } = w.env;
  const run = await arbiter(['check-config'], { ...rest, NODE_ENV: 'development' }, w.dir.path);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^off +SMTP: .*SMTP_HOST is not set: .*written as files to .*outbox/m);
  assert.match(run.stdout, /^off +Ghost: .*CMS_URL/m);
  assert.match(run.stdout, /^ok +Settings: .*warning/m);
});

test('bad settings exit 78 before any outside check; --help explains the command', async () => {
  const bad = await check({ SMTP_PORT: 'many' });
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /SMTP_PORT: must be a whole number/);
  assert.equal(bad.stdout, '');
  const help = await arbiter(['check-config', '--help'], {}, w.dir.path);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: arbiter check-config/);
  assert.match(help.stdout, /exit status 1/i);
});
