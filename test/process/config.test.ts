import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMain } from '../support/child.js';
import { tempDir } from '../support/config.js';

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
    ].join('\n'),
  );
  const child = runMain({}, dir.path);
  const { code } = await child.exited;
  assert.equal(code, 78);
  const message = child.stderr();
  assert.match(message, /^Arbiter cannot start: \d+ configuration problems:/);
  for (const variable of ['PORT', 'APP_URL', 'DISCORD_GUILD_ID', 'SESSION_SECRET', 'CMS_ADMIN_KEY', 'LINK_TTL_HOURS', 'WEBHOOK_SECRET', 'DISCORD_BOT_TOKEN', 'SMTP_HOST', 'EMAIL_FROM', 'ROLES_FILE']) {
    assert.match(message, new RegExp(`- ${variable}`), `${variable} is not listed`);
  }
  assert.match(message, /example: PORT=3500/);
  assert.equal(child.stdout(), '');
  // The message names variables, never echoes secret values.
  assert.doesNotMatch(message, /short/);
});
