import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { loadConfig, PLACEHOLDERS, type Config } from '../../src/config.js';
import { problemsOf, tempDir, testConfig, TIERS, UNREACHABLE_DISCORD, WEBHOOK_SECRET } from '../support/config.js';

const ENV_EXAMPLE = fileURLToPath(new URL('../../.env.example', import.meta.url));

/** A complete production environment: every required setting present and real-looking. */
function productionEnv(dir: string): Record<string, string> {
  const rolesFile = join(dir, 'roles.json');
  writeFileSync(rolesFile, JSON.stringify({ tiers: TIERS }));
  return {
    NODE_ENV: 'production',
    APP_URL: 'https://arbiter.test',
    DATA_DIR: join(dir, 'data'),
    ROLES_FILE: rolesFile,
    WEBHOOK_SECRET,
    SESSION_SECRET: 'production-session-secret-0123456789abcdef',
    SMTP_HOST: '127.0.0.1',
    EMAIL_FROM: 'Arbiter <arbiter@arbiter.test>',
    ...UNREACHABLE_DISCORD,
  };
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

test('TRUST_PROXY becomes what Express wants: names, addresses and ranges, true/false, or a hop count', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const cases: [string, Config['trustProxy']][] = [
    ['1', 1],
    ['2', 2],
    ['0', 0],
    ['true', true],
    ['false', false],
    ['loopback', ['loopback']],
    ['loopback, 10.0.0.0/8 ,::1', ['loopback', '10.0.0.0/8', '::1']],
    ['uniquelocal,linklocal', ['uniquelocal', 'linklocal']],
    ['192.168.1.10', ['192.168.1.10']],
    ['fd00::/8,172.16.0.0/12', ['fd00::/8', '172.16.0.0/12']],
  ];
  for (const [value, expected] of cases) {
    assert.deepEqual(testConfig(dir.path, { TRUST_PROXY: value }).trustProxy, expected, value);
  }
  assert.deepEqual(testConfig(dir.path).trustProxy, ['loopback']);
  for (const value of ['bogus', '1.5', '-1', '10.0.0.0/33', '::1/129', '300.1.1.1', 'loopback,nginx', '10.0.0.0/', 'yes']) {
    const problems = problemsOf(() => testConfig(dir.path, { TRUST_PROXY: value }));
    assert.equal(problems.length, 1, `${value}: ${problems.join('\n')}`);
    assert.match(problems[0]!, /^TRUST_PROXY: .*hop count/);
  }
});

test('SMTP needs STARTTLS except to a loopback relay, unless SMTP_REQUIRE_TLS=false says otherwise', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const smtp = (env: Record<string, string>) => testConfig(dir.path, env).smtp!;
  assert.equal(smtp({ SMTP_HOST: 'smtp.example.net' }).requireTls, true);
  assert.equal(smtp({ SMTP_HOST: '10.0.0.25' }).requireTls, true);
  for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]']) {
    assert.equal(smtp({ SMTP_HOST: host }).requireTls, false, host);
  }
  // Implicit TLS (port 465) is encrypted from the first byte: there is no STARTTLS to require.
  assert.equal(smtp({ SMTP_HOST: 'smtp.example.net', SMTP_PORT: '465', SMTP_SECURE: 'true' }).requireTls, false);
  const off = testConfig(dir.path, { SMTP_HOST: 'smtp.example.net', SMTP_REQUIRE_TLS: 'false' });
  assert.equal(off.smtp!.requireTls, false);
  assert.ok(off.warnings.some((w) => w.includes('SMTP_REQUIRE_TLS')), off.warnings.join('\n'));
  const problems = problemsOf(() => testConfig(dir.path, { SMTP_HOST: 'smtp.example.net', SMTP_REQUIRE_TLS: 'perhaps' }));
  assert.match(problems.join('\n'), /^SMTP_REQUIRE_TLS: /m);
});

test('METRICS_TOKEN is at least 32 characters when set', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  assert.equal(testConfig(dir.path).metricsToken, null);
  const token = randomBytes(24).toString('hex');
  assert.equal(testConfig(dir.path, { METRICS_TOKEN: token }).metricsToken, token);
  const problems = problemsOf(() => testConfig(dir.path, { METRICS_TOKEN: 'short-metrics-token' }));
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^METRICS_TOKEN: must be at least 32 characters/);
  assert.ok(!problems[0]!.includes('short-metrics-token'));
});

test('.env.example as it stands cannot start production: each placeholder is refused by name', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const example = parseEnv(readFileSync(ENV_EXAMPLE, 'utf8')) as Record<string, string>;
  // The list of refused placeholders and the file must not drift apart: every value in the file that is meant
  // to be replaced is on the list, and every placeholder on the list is the one the file shows.
  const meantToBeReplaced = /REPLACE|example\.(com|org|net)/;
  for (const [variable, value] of Object.entries(example)) {
    if (meantToBeReplaced.test(value)) assert.ok(PLACEHOLDERS[variable]?.includes(value), `${variable}=${value} is not refused`);
  }
  for (const [variable, values] of Object.entries(PLACEHOLDERS)) {
    if (example[variable]) assert.ok(values.includes(example[variable]), `.env.example shows another ${variable} than the refused one`);
  }
  const refused = Object.keys(example).filter((v) => PLACEHOLDERS[v]?.includes(example[v]!));
  assert.ok(refused.includes('WEBHOOK_SECRET'), 'the example webhook secret is refused');

  writeFileSync(join(dir.path, '.env'), readFileSync(ENV_EXAMPLE));
  const env = productionEnv(dir.path);
  const onlyOutside = { ROLES_FILE: env.ROLES_FILE!, DATA_DIR: env.DATA_DIR! };
  const problems = problemsOf(() => loadConfig(onlyOutside, { cwd: dir.path }));
  for (const variable of refused) {
    assert.ok(problems.some((p) => p.startsWith(`${variable}: is the placeholder from .env.example`)), `${variable} is not refused:\n${problems.join('\n')}`);
  }
});

test('production refuses placeholders and the development webhook secret, alone or among several', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const env = productionEnv(dir.path);
  assert.equal(loadConfig(env, { envFile: false }).env, 'production');
  for (const secret of [...PLACEHOLDERS.WEBHOOK_SECRET!, 'dev-webhook-secret-change-me']) {
    for (const value of [secret, `${WEBHOOK_SECRET} ${secret}`]) {
      const problems = problemsOf(() => loadConfig({ ...env, WEBHOOK_SECRET: value }, { envFile: false }));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /^WEBHOOK_SECRET: (secret 2 of 2 )?is (the placeholder from \.env\.example|the development secret)/);
    }
  }
  // Outside production the development secret is what `npm run dev` uses.
  assert.equal(testConfig(dir.path, { NODE_ENV: 'development', WEBHOOK_SECRET: 'dev-webhook-secret-change-me' }).webhookSecrets.length, 1);
});
