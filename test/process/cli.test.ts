import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { COMMANDS } from '../../src/ops/commands/index.js';
import { arbiter, arbiterHere } from '../support/cli.js';
import { tempDir, TIERS, WEBHOOK_SECRET, type TempDir } from '../support/config.js';

let dir: TempDir;
let env: Record<string, string>;

before(() => {
  dir = tempDir();
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  env = {
    NODE_ENV: 'test',
    DATA_DIR: join(dir.path, 'data'),
    ROLES_FILE: join(dir.path, 'roles.json'),
    WEBHOOK_SECRET,
    SESSION_SECRET: 'test-session-secret-0123456789abcdef0123456789',
    LOG_LEVEL: 'silent',
  };
});
after(() => dir.remove());

test('without a command it lists every command and exits 1; --help exits 0', async () => {
  const bare = await arbiter([], env, dir.path);
  assert.equal(bare.code, 1);
  for (const command of COMMANDS) assert.match(bare.stdout, new RegExp(`^  ${command.name} `, 'm'));
  const help = await arbiter(['--help'], env, dir.path);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, bare.stdout);
});

test('every command explains itself with --help, without reading any configuration', async () => {
  for (const command of COMMANDS) {
    const run = await arbiterHere([command.name, '--help'], {}, dir.path);
    assert.equal(run.code, 0, `${command.name}: ${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^Usage: arbiter ${command.name}`));
    assert.match(run.stdout, /--env FILE/);
  }
});

test('an unknown command, an unknown option or a wrong number of arguments is refused with exit 1 and words', async () => {
  const unknown = await arbiterHere(['frobnicate'], env, dir.path);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /There is no command "frobnicate"/);
  const option = await arbiterHere(['stats', '--bogus'], env, dir.path);
  assert.equal(option.code, 1);
  assert.match(option.stderr, /Unknown option '--bogus'/);
  const extra = await arbiterHere(['stats', 'more'], env, dir.path);
  assert.equal(extra.code, 1);
  assert.match(extra.stderr, /Unexpected argument "more"/);
});

test('a bad configuration exits 78 with every problem listed, as the server does', async () => {
  const run = await arbiter(['stats'], { ...env, NODE_ENV: 'production', LINK_TTL_HOURS: 'soon' }, dir.path);
  assert.equal(run.code, 78);
  assert.match(run.stderr, /LINK_TTL_HOURS: must be a whole number/);
  assert.match(run.stderr, /APP_URL: is required in production/);
  const missingFile = await arbiter(['stats', '--env', join(dir.path, 'nope.env')], env, dir.path);
  assert.equal(missingFile.code, 78);
  assert.match(missingFile.stderr, /nope\.env does not exist/);
});

test('--env supplies the settings, and the environment still wins over it', async () => {
  const file = join(dir.path, 'arbiter.env');
  writeFileSync(file, Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n'));
  const fromFile = await arbiter(['stats', '--json', '--env', file], {}, '/');
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(JSON.parse(fromFile.stdout).dataDir, env.DATA_DIR);
  const overridden = await arbiter(['stats', '--json', '--env', file], { DATA_DIR: join(dir.path, 'other') }, '/');
  assert.equal(JSON.parse(overridden.stdout).dataDir, join(dir.path, 'other'));
});

test('stats prints the counts in words, or as JSON', async () => {
  const words = await arbiter(['stats'], env, dir.path);
  assert.equal(words.code, 0, words.stderr);
  assert.match(words.stdout, /Subscriptions: 0 active/);
  const json = JSON.parse((await arbiter(['stats', '--json'], env, dir.path)).stdout);
  assert.equal(json.subscriptions.active, 0);
  assert.equal(json.webhooks.total, 0);
});

test('--env may come before the command as well as after it', async () => {
  const file = join(dir.path, 'before.env');
  writeFileSync(file, Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n'));
  const run = await arbiter(['--env', file, 'stats', '--json'], {}, '/');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).dataDir, env.DATA_DIR);
});
