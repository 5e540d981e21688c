/**
 * arbiter.service, checked by systemd's own tools: `systemd-analyze verify` (as on the server, but with node and
 * dist/main.js where they are on this machine) and `systemd-analyze security --offline=true` (its exposure score).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, type TempDir } from '../support/config.js';
import { requireTool } from '../support/tools.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const UNIT_FILE = join(REPO, 'arbiter.service');
const EXEC_START = 'ExecStart=/usr/bin/node --max-semi-space-size=4 /opt/arbiter/dist/main.js';

/** The directives of a unit file, in order, without comments. */
function directives(text: string): [key: string, value: string][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith(';') && !line.startsWith('['))
    .map((line) => {
      const at = line.indexOf('=');
      assert.ok(at > 0, `not a directive: ${line}`);
      return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
    });
}

function analyze(args: string[]): { status: number | null; output: string } {
  const run = spawnSync(requireTool('systemd-analyze', 'systemd'), args, { encoding: 'utf8' });
  if (run.error) throw new Error(`systemd-analyze could not run: ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Seconds of a systemd time span such as 35s, 1min 30s or 90. */
function seconds(span: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const match = /^(\d+)([a-z]*)$/.exec(part);
    assert.ok(match && match[2]! in units, `cannot read the time span "${span}"`);
    total += Number(match[1]) * units[match[2]!]!;
  }
  return total;
}

describe('arbiter.service', () => {
  const text = readFileSync(UNIT_FILE, 'utf8');
  const unit = directives(text);
  const values = (key: string) => unit.filter(([k]) => k === key).map(([, v]) => v);
  const value = (key: string) => {
    const found = values(key);
    assert.equal(found.length, 1, `${key}= should be set once, found ${found.length}`);
    return found[0]!;
  };
  let dir: TempDir;
  let local: string;

  before(() => {
    dir = tempDir('arbiter-unit-');
    // verify checks that ExecStart's program exists: point it at this machine's node and this checkout.
    assert.ok(text.includes(EXEC_START), `arbiter.service no longer has the line "${EXEC_START}"`);
    local = join(dir.path, 'arbiter.service');
    writeFileSync(local, text.replace(EXEC_START, `ExecStart=${process.execPath} --max-semi-space-size=4 ${join(REPO, 'dist/main.js')}`));
  });
  after(() => dir.remove());

  test('runs node on the build directly, as its own user, and stops in time', () => {
    const exec = value('ExecStart').split(/\s+/);
    assert.match(exec[0]!, /^\/.*\/node$/);
    assert.match(exec.at(-1)!, /\/dist\/main\.js$/);
    // The same node options as npm start.
    const start = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    assert.equal(`exec node ${exec.slice(1, -1).join(' ')} dist/main.js`.replace(/ +/g, ' '), start);
    assert.doesNotMatch(text, /\bnpm\b/, 'the unit starts node itself, not npm');
    assert.equal(value('Type'), 'exec');
    assert.equal(value('User'), 'arbiter');
    assert.equal(value('Group'), 'arbiter');
    assert.equal(value('EnvironmentFile'), '/etc/arbiter/arbiter.env');
    assert.equal(value('StateDirectory'), 'arbiter');
    assert.equal(value('StateDirectoryMode'), '0700');
    assert.equal(value('UMask'), '0077');
    assert.equal(value('Restart'), 'on-failure');
    assert.ok(value('RestartPreventExitStatus').split(/\s+/).includes('78'), 'exit status 78 (bad configuration) is not restarted');
    assert.equal(value('KillSignal'), 'SIGTERM');
    // Arbiter forces its own exit 25 s after SIGTERM; systemd must not SIGKILL it before.
    assert.ok(seconds(value('TimeoutStopSec')) > 25, `TimeoutStopSec=${value('TimeoutStopSec')} is not longer than 25 s`);
  });

  test('leaves V8 its JIT and Arbiter its network', () => {
    assert.deepEqual(values('MemoryDenyWriteExecute'), [], 'MemoryDenyWriteExecute breaks V8');
    assert.match(text, /^#.*MemoryDenyWriteExecute/m, 'a comment says why MemoryDenyWriteExecute is absent');
    assert.deepEqual(values('IPAddressDeny'), [], 'Arbiter must reach Discord, SMTP and Ghost');
    assert.deepEqual(values('PrivateNetwork'), []);
    assert.deepEqual(values('ReadWritePaths'), [], 'the state directory is the only writable place');
    assert.deepEqual(value('RestrictAddressFamilies').split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX']);
  });

  test('systemd-analyze verify finds nothing to say about it', () => {
    const { status, output } = analyze(['verify', local]);
    const aboutUnit = output.split('\n').filter((line) => line.includes('arbiter.service'));
    assert.deepEqual(aboutUnit, [], output);
    assert.equal(status, 0, output);
  });

  test('verify would speak up: a unit with a mistake is reported', () => {
    const broken = join(dir.path, 'broken', 'arbiter.service');
    mkdirSync(join(dir.path, 'broken'));
    writeFileSync(broken, readFileSync(local, 'utf8').replace('[Service]\n', '[Service]\nTimeoutStopSecs=35s\n'));
    const { output } = analyze(['verify', broken]);
    assert.match(output, /arbiter\.service:\d+: Unknown key 'TimeoutStopSecs'/);
  });

  test('systemd-analyze security rates its exposure 2.0 or lower', () => {
    const { status, output } = analyze(['security', '--offline=true', '--no-pager', UNIT_FILE]);
    assert.equal(status, 0, output);
    const overall = /Overall exposure level for arbiter\.service: (\d+\.\d+) (\S+)/.exec(output);
    assert.ok(overall, output);
    assert.ok(Number(overall[1]) <= 2.0, `exposure ${overall[1]} ${overall[2]}:\n${output}`);
  });
});
