import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMain } from '../support/child.js';
import { tempDir, TIERS, UNREACHABLE_DISCORD } from '../support/config.js';

test('a bad .env stops the process with one message listing every problem', async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: { awakened: ['12'] } }));
  writeFileSync(
    join(dir.path, '.env'),
    [
      'NODE_ENV=production',
      'PORT=eighty',
      'APP_URL=ftp://example.com',
      `ROLES_FILE=${join(dir.path, 'roles.json')}`,
      'DISCORD_GUILD_ID=not-a-snowflake',
      'SESSION_SECRET=short',
      'CMS_URL=https://blog.example.com',
      'LINK_TTL_HOURS=0',
      'TRUST_PROXY=bogus',
      'SMTP_REQUIRE_TLS=perhaps',
      'METRICS_TOKEN=short-metrics-token',
    ].join('\n'),
  );
  const child = runMain({}, dir.path);
  const { code } = await child.exited;
  assert.equal(code, 78);
  const message = child.stderr();
  assert.match(message, /^Arbiter cannot start: \d+ configuration problems:/);
  for (const variable of ['PORT', 'APP_URL', 'DISCORD_GUILD_ID', 'SESSION_SECRET', 'CMS_ADMIN_KEY', 'LINK_TTL_HOURS', 'WEBHOOK_SECRET', 'DISCORD_BOT_TOKEN', 'SMTP_HOST', 'EMAIL_FROM', 'ROLES_FILE', 'TRUST_PROXY', 'SMTP_REQUIRE_TLS', 'METRICS_TOKEN']) {
    assert.match(message, new RegExp(`- ${variable}`), `${variable} is not listed`);
  }
  assert.match(message, /example: PORT=3500/);
  assert.equal(child.stdout(), '');
  // The message names variables, never echoes secret values.
  assert.doesNotMatch(message, /short/);
});

test('without NODE_ENV Arbiter is in production: no webhook secret, no start', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  const child = runMain(
    {
      PORT: '0',
      APP_URL: 'https://arbiter.test',
      DATA_DIR: join(dir.path, 'data'),
      ROLES_FILE: join(dir.path, 'roles.json'),
      SESSION_SECRET: 'production-session-secret-0123456789abcdef',
      SMTP_HOST: '127.0.0.1',
      EMAIL_FROM: 'Arbiter <arbiter@arbiter.test>',
      ...UNREACHABLE_DISCORD,
    },
    dir.path,
  );
  t.after(async () => {
    child.process.kill('SIGKILL');
    await child.exited;
    dir.remove();
  });
  const outcome = await Promise.race([child.exited, child.url.then(() => 'listening' as const)]);
  assert.notEqual(outcome, 'listening', 'Arbiter started with the development webhook secret');
  assert.deepEqual(outcome, { code: 78, signal: null });
  assert.match(child.stderr(), /^Arbiter cannot start: 1 configuration problem:\n {2}- WEBHOOK_SECRET: is required in production/);
});
