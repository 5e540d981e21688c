import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { arbiterHere } from '../support/cli.js';
import { tempDir, testEnv, TIERS, type TempDir } from '../support/config.js';

let dir: TempDir;
let env: Record<string, string>;
let file: string;

before(() => {
  dir = tempDir();
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  file = join(dir.path, 'oidc-clients.json');
  writeFileSync(file, '{"clients": []}\n', { mode: 0o640 });
  env = testEnv(dir.path, { OIDC_CLIENTS_FILE: file });
});
after(() => dir.remove());

const oidc = (args: string[]) => arbiterHere(['oidc', ...args], env, dir.path);
const clients = () => (JSON.parse(readFileSync(file, 'utf8')) as { clients: Record<string, unknown>[] }).clients;

test('add-client writes a checked entry with the hash of a secret printed once; Arbiter then loads the file', async () => {
  const run = await oidc([
    'add-client', '--id', 'wiki', '--name', 'The Wiki', '--redirect-uri', 'https://wiki.example.com/callback',
    '--redirect-uri', 'https://wiki.example.com/other', '--logout-uri', 'https://wiki.example.com/', '--scope', 'openid,profile,tiers',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const secret = /client secret[^:]*: (\S+)/.exec(run.stdout)?.[1];
  assert.ok(secret, run.stdout);
  assert.match(run.stdout, /restart/i);
  assert.deepEqual(clients(), [{
    client_id: 'wiki',
    client_name: 'The Wiki',
    client_secret_hash: createHash('sha256').update(secret).digest('hex'),
    redirect_uris: ['https://wiki.example.com/callback', 'https://wiki.example.com/other'],
    post_logout_redirect_uris: ['https://wiki.example.com/'],
    scopes: ['openid', 'profile', 'tiers'],
  }]);
  assert.equal(statSync(file).mode & 0o777, 0o640, 'the file keeps its mode');
  const config = loadConfig(env, { cwd: dir.path, envFile: false });
  assert.deepEqual(config.oidcClients.map((c) => [c.clientId, c.authMethod]), [['wiki', 'client_secret_basic']]);

  const app = await oidc(['add-client', '--id', 'desktop', '--public', '--redirect-uri', 'http://127.0.0.1:8765/callback', '--scope', 'openid,tiers']);
  assert.equal(app.code, 0, app.stderr);
  assert.doesNotMatch(app.stdout, /client secret/);
  assert.match(app.stdout, /PKCE/);
  assert.equal(clients()[1]!.client_secret_hash, 'public');
});

test('a taken id, a bad redirect URI or scope, or no redirect URI change nothing and say why', async () => {
  const before = readFileSync(file, 'utf8');
  const cases: [string[], RegExp][] = [
    [['add-client', '--id', 'wiki', '--redirect-uri', 'https://x.example.com/cb'], /"wiki" is listed twice/],
    [['add-client', '--id', 'forum', '--redirect-uri', 'http://forum.example.com/cb'], /must be https/],
    [['add-client', '--id', 'forum', '--redirect-uri', 'https://forum.example.com/cb', '--scope', 'tiers,email'], /must include openid|each scope must be one of/],
    [['add-client', '--id', 'forum'], /at least one redirect URI/],
    [['add-client', '--redirect-uri', 'https://forum.example.com/cb'], /--id/],
    [['remove-client', '--id', 'nobody'], /no app "nobody"/],
  ];
  for (const [args, message] of cases) {
    const run = await oidc(args);
    assert.equal(run.code, 1, `${args.join(' ')}: ${run.stdout}`);
    assert.match(run.stderr, message, args.join(' '));
  }
  assert.equal(readFileSync(file, 'utf8'), before);
});

test('remove-client takes the app out of the file', async () => {
  const run = await oidc(['remove-client', '--id', 'desktop']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(clients().map((c) => c.client_id), ['wiki']);
});

test('without OIDC_CLIENTS_FILE it says which setting names the file', async () => {
  const run = await arbiterHere(['oidc', 'add-client', '--id', 'x', '--redirect-uri', 'https://x.example.com/cb'], testEnv(dir.path), dir.path);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /OIDC_CLIENTS_FILE/);
});
