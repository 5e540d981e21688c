import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Config } from '../../src/config.js';
import { isArbiterError } from '../../src/errors.js';
import { tempDir, testConfig, WEBHOOK_SECRET } from '../support/config.js';

/** The configuration problems loadConfig refuses to start with. */
function problemsOf(load: () => Config): string[] {
  try {
    load();
  } catch (err) {
    assert.ok(isArbiterError(err) && err.code === 'config_invalid', String(err));
    return err.details as string[];
  }
  assert.fail('the configuration was accepted');
}

test('a whsec_ secret must be strict base64 of at least 16 bytes; the problem never shows the secret', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const good = `whsec_${randomBytes(32).toString('base64')}`;
  const config = testConfig(dir.path, { WEBHOOK_SECRET: `${WEBHOOK_SECRET} ${good}` });
  assert.deepEqual(config.webhookSecrets.map((k) => k.length), [24, 32]);

  const body = WEBHOOK_SECRET.slice('whsec_'.length);
  const bad = [
    `whsec_${body.slice(0, 10)}!${body.slice(10)}`, // a character outside base64
    `whsec_${body.slice(0, 10)}-${body.slice(11)}`, // base64url is not base64
    `whsec_${body.slice(0, -1)}`, // not a whole number of base64 quads
    `whsec_${body}=`, // padding where none belongs
    `whsec_${randomBytes(8).toString('base64')}`, // too short once decoded
  ];
  for (const secret of bad) {
    for (const value of [secret, `${good} ${secret}`]) {
      const problems = problemsOf(() => testConfig(dir.path, { WEBHOOK_SECRET: value }));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /^WEBHOOK_SECRET: /);
      assert.ok(!problems[0]!.includes(secret.slice(6, 16)), `the secret is shown: ${problems[0]}`);
      assert.ok(!problems[0]!.includes(good.slice(6, 16)), `the good secret is shown: ${problems[0]}`);
    }
  }
  const second = problemsOf(() => testConfig(dir.path, { WEBHOOK_SECRET: `${good} ${bad[0]}` }))[0]!;
  assert.match(second, /secret 2 /);
});
