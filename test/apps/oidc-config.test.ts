import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256Hex } from '../../src/secure-compare.js';
import type { Config } from '../../src/config.js';
import { checkConfig } from '../../src/ops/check-config.js';
import { arbiter } from '../support/cli.js';
import { problemsOf, tempDir, testConfig, testEnv } from '../support/config.js';

const HASH = sha256Hex('a-secret-for-the-wiki-0123456789abcdef');
const WIKI = { client_id: 'wiki', client_secret_hash: HASH, redirect_uris: ['https://wiki.example.com/callback'], scopes: ['openid', 'profile', 'tiers'] };

function withClients(content: unknown): { dir: ReturnType<typeof tempDir>; file: string; load: () => Config } {
  const dir = tempDir();
  const file = join(dir.path, 'oidc-clients.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return { dir, file, load: () => testConfig(dir.path, { OIDC_CLIENTS_FILE: file }) };
}

test('OIDC_CLIENTS_FILE unset: no clients, and nothing else is needed', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const config = testConfig(dir.path);
  assert.equal(config.oidcClientsFile, null);
  assert.deepEqual(config.oidcClients, []);
});

test('a valid file: confidential clients keep only the hash, public clients have none and no auth method', (t) => {
  const { dir, load } = withClients({
    clients: [
      { ...WIKI, client_name: 'The Wiki', post_logout_redirect_uris: ['https://wiki.example.com/bye'], token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'desktop', client_secret_hash: 'public', redirect_uris: ['http://127.0.0.1:8123/cb', 'http://localhost/cb', 'http://[::1]:9/cb'], scopes: ['openid', 'tiers', 'offline_access'] },
    ],
  });
  t.after(dir.remove);
  const config = load();
  assert.deepEqual(config.oidcClients.map((c) => [c.clientId, c.name, c.secretHash, c.authMethod]), [
    ['wiki', 'The Wiki', HASH, 'client_secret_post'],
    ['desktop', 'desktop', null, 'none'],
  ]);
  assert.deepEqual(config.oidcClients[0]!.postLogoutRedirectUris, ['https://wiki.example.com/bye']);
  assert.deepEqual(config.oidcClients[1]!.scopes, ['openid', 'tiers', 'offline_access']);
});

test('a missing file or one that is not JSON is a problem naming the file, with an example', (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const missing = problemsOf(() => testConfig(dir.path, { OIDC_CLIENTS_FILE: 'nowhere.json' }));
  assert.equal(missing.length, 1);
  assert.match(missing[0]!, new RegExp(`^OIDC_CLIENTS_FILE \\(${join(dir.path, 'nowhere.json').replaceAll('/', '\\/')}\\): file not found \\(example: \\{"clients"`));
  const { dir: other, load } = withClients('{"clients": [');
  t.after(other.remove);
  assert.match(problemsOf(load)[0]!, /^OIDC_CLIENTS_FILE \(.*\): not valid JSON/);
});

test('every mistake in the file is listed with where it is, in one run', (t) => {
  const { dir, load } = withClients({
    clients: [
      { ...WIKI, client_secret_hash: 'plaintext-secret' },
      { ...WIKI, client_id: 'two', redirect_uris: ['http://wiki.example.com/callback', 'https://wiki.example.com/cb#frag', 'not a url'] },
      { ...WIKI, client_id: 'three', scopes: ['profile', 'email'] },
      { ...WIKI, client_id: 'wiki' },
      { ...WIKI, client_id: 'four', redirect_uris: [], extra: true },
      { ...WIKI, client_id: 'five', client_secret_hash: 'public', token_endpoint_auth_method: 'client_secret_basic' },
      { ...WIKI, client_id: 'has space' },
    ],
  });
  t.after(dir.remove);
  const problems = problemsOf(load);
  const at = (path: string, message: RegExp) =>
    assert.ok(problems.some((p) => p.includes(`at clients.${path}: `) && message.test(p)), `nothing at ${path} matching ${message}:\n${problems.join('\n')}`);
  at('0.client_secret_hash', /hex SHA-256 .* or "public"/);
  at('1.redirect_uris.0', /must be https \(http only for 127\.0\.0\.1, \[::1\] or localhost\)/);
  at('1.redirect_uris.1', /must not have a #fragment/);
  at('1.redirect_uris.2', /is not an absolute URL/);
  at('2.scopes.1', /each scope must be one of openid, profile, tiers, offline_access/);
  at('2.scopes', /must include openid/);
  at('3.client_id', /"wiki" is listed twice/);
  at('4.redirect_uris', /at least one redirect URI/);
  at('4', /extra/);
  at('5.token_endpoint_auth_method', /a public client has no secret/);
  at('6.client_id', /letters, digits/);
  for (const p of problems) assert.match(p, /^OIDC_CLIENTS_FILE \(/);
  assert.ok(!problems.some((p) => p.includes('plaintext-secret')), 'a value that may be a secret is never repeated');
});

test('the top level must be {"clients": [...]}', (t) => {
  const { dir, load } = withClients([WIKI]);
  t.after(dir.remove);
  assert.match(problemsOf(load)[0]!, /^OIDC_CLIENTS_FILE \(.*\) at top level: /);
});

test('a bad clients file stops the CLI (and the server, by the same path) with exit 78', async (t) => {
  const { dir, file } = withClients({ clients: [{ ...WIKI, scopes: ['email'] }] });
  t.after(dir.remove);
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: { awakened: ['1100000000000000001'] } }));
  const run = await arbiter(['stats'], testEnv(dir.path, { OIDC_CLIENTS_FILE: file }), dir.path);
  assert.equal(run.code, 78, run.stdout + run.stderr);
  assert.match(run.stderr, /OIDC_CLIENTS_FILE \(.*\) at clients\.0\.scopes\.0: each scope must be one of/);
});

test('check-config tells whether apps may sign in, and the Discord redirect to allow', async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const off = (await checkConfig(testConfig(dir.path), 1_000)).find((c) => c.name === 'OpenID Connect');
  assert.equal(off?.state, 'off');
  assert.match(off!.text, /OIDC_CLIENTS_FILE is not set/);
  const { dir: other, file, load } = withClients({ clients: [WIKI] });
  t.after(other.remove);
  const on = (await checkConfig(load(), 1_000)).find((c) => c.name === 'OpenID Connect');
  assert.equal(on?.state, 'ok');
  assert.ok(on!.text.includes(file));
  assert.match(on!.text, /1 app \(wiki\)/);
  assert.match(on!.text, /\/oidc\/callback/);
  assert.ok(!on!.text.includes(HASH));
});
