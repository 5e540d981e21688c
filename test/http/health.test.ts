import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { tempDir, testConfig } from '../support/config.js';
import { startTestServer } from '../support/server.js';
import { startWorld } from '../support/world.js';

const PUBLIC_KEYS = ['database', 'discord', 'status', 'timestamp', 'uptime', 'version'];
/** What nginx adds to a request from a visitor on the internet. */
const THROUGH_NGINX = { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https' };

async function health(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/health`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

test('anyone gets the short answer; the details only from loopback; 503 once the database is gone', async (t) => {
  const dir = tempDir();
  const app = await startTestServer(testConfig(dir.path));
  t.after(async () => {
    await app.stop();
    dir.remove();
  });
  const visitor = await health(app.url, THROUGH_NGINX);
  assert.equal(visitor.status, 200);
  assert.deepEqual(Object.keys(visitor.body).sort(), PUBLIC_KEYS);
  assert.equal(visitor.body.status, 'ok');
  assert.equal(visitor.body.version, '2.0.0');
  assert.equal(visitor.body.database, 'ok');
  assert.equal(visitor.body.discord, 'not configured');
  assert.equal(typeof visitor.body.uptime, 'number');
  assert.ok(!Number.isNaN(Date.parse(String(visitor.body.timestamp))));

  const local = await health(app.url);
  assert.equal(local.status, 200);
  assert.deepEqual(Object.keys(local.body).sort(), [...PUBLIC_KEYS, 'details'].sort());
  assert.equal(local.body.discord, 'not configured');
  assert.equal(local.body.details.ghost, 'off');
  assert.match(local.body.details.email, /^outbox /);
  // The one waiting job is the daily prune, due a few minutes after start.
  assert.deepEqual(local.body.details.jobs, { pending: 1, running: 0, done: 0, dead: 0 });

  await app.services.worker.stop();
  app.services.db.close();
  const down = await health(app.url, THROUGH_NGINX);
  assert.equal(down.status, 503);
  assert.deepEqual(Object.keys(down.body).sort(), PUBLIC_KEYS);
  assert.equal(down.body.database, 'down');
  const downLocal = await health(app.url);
  assert.equal(downLocal.status, 503);
  assert.equal(downLocal.body.details.jobs, 'unknown');
});

test('METRICS_TOKEN opens the details to a request from anywhere; a wrong token gets the short answer', async (t) => {
  const dir = tempDir();
  const token = randomBytes(24).toString('base64url');
  const app = await startTestServer(testConfig(dir.path, { METRICS_TOKEN: token }));
  t.after(async () => {
    await app.stop();
    dir.remove();
  });
  const withToken = await health(app.url, { ...THROUGH_NGINX, Authorization: `Bearer ${token}` });
  assert.deepEqual(withToken.body.details.jobs, { pending: 1, running: 0, done: 0, dead: 0 });
  for (const authorization of [`Bearer ${token.slice(0, -1)}`, `Bearer ${token}x`, token, `Basic ${token}`, 'Bearer ']) {
    const refused = await health(app.url, { ...THROUGH_NGINX, Authorization: authorization });
    assert.equal(refused.status, 200);
    assert.deepEqual(Object.keys(refused.body).sort(), PUBLIC_KEYS, authorization);
  }
});

test('TRUST_PROXY decides who is loopback: an untrusted proxy header is ignored, a trusted one is believed', async (t) => {
  const dir = tempDir();
  const untrusting = await startTestServer(testConfig(dir.path, { TRUST_PROXY: 'false', DATA_DIR: `${dir.path}/a` }));
  const oneHop = await startTestServer(testConfig(dir.path, { TRUST_PROXY: '1', DATA_DIR: `${dir.path}/b` }));
  t.after(async () => {
    await untrusting.stop();
    await oneHop.stop();
    dir.remove();
  });
  // Nobody is trusted to say who the client is: the connection comes from loopback, so it is loopback.
  assert.ok('details' in (await health(untrusting.url, THROUGH_NGINX)).body);
  // One proxy hop is trusted: the client is the address nginx reported.
  assert.ok(!('details' in (await health(oneHop.url, THROUGH_NGINX)).body));
  assert.ok('details' in (await health(oneHop.url)).body);
});

test('the Discord bot state in short words, and its permission problems in the details', async (t) => {
  const w = await startWorld();
  t.after(() => w.stop());
  const ready = await health(w.app.url, THROUGH_NGINX);
  assert.equal(ready.body.discord, 'ok');
  assert.deepEqual(Object.keys(ready.body).sort(), PUBLIC_KEYS);
  const local = await health(w.app.url);
  assert.equal(local.body.details.discord.status, 'ready');
  assert.equal(local.body.details.ghost, 'configured');

  w.discord.setBotPermissions({ rolePosition: 2 });
  await w.app.services.discord!.bot.checkPermissions();
  const problem = await health(w.app.url, THROUGH_NGINX);
  assert.equal(problem.body.discord, 'degraded');
  assert.ok(!JSON.stringify(problem.body).includes('Awakened'), 'role names are not public');
  const details = (await health(w.app.url)).body.details;
  assert.ok(details.discord.problems.some((p: string) => p.includes('"Awakened"')), JSON.stringify(details.discord));
});

function logLines() {
  const lines: { level: string; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger('info', stream), warnings: () => lines.filter((l) => l.level === 'warn' && /X-Forwarded-Proto/.test(l.msg)) };
}

test('APP_URL is https but requests arrive as http: one warning naming TRUST_PROXY and X-Forwarded-Proto', async (t) => {
  const dir = tempDir();
  const logs = { missingHeader: logLines(), untrusted: logLines(), fine: logLines() };
  const https = { APP_URL: 'https://arbiter.test' };
  const missingHeader = await startTestServer(testConfig(dir.path, { ...https, DATA_DIR: `${dir.path}/a` }), { log: logs.missingHeader.log });
  const untrusted = await startTestServer(testConfig(dir.path, { ...https, TRUST_PROXY: 'false', DATA_DIR: `${dir.path}/b` }), { log: logs.untrusted.log });
  const fine = await startTestServer(testConfig(dir.path, { ...https, DATA_DIR: `${dir.path}/c` }), { log: logs.fine.log });
  t.after(async () => {
    await Promise.all([missingHeader.stop(), untrusted.stop(), fine.stop()]);
    dir.remove();
  });

  // nginx forgot `proxy_set_header X-Forwarded-Proto $scheme`.
  assert.equal((await health(missingHeader.url)).body.details.http.problem, null);
  for (let i = 0; i < 3; i++) await fetch(`${missingHeader.url}/`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
  const [warning, ...more] = logs.missingHeader.warnings();
  assert.ok(warning, 'no warning');
  assert.deepEqual(more, []);
  assert.match(warning.msg, /TRUST_PROXY/);
  assert.match((await health(missingHeader.url)).body.details.http.problem, /X-Forwarded-Proto/);

  // nginx sends the header but is not trusted.
  for (let i = 0; i < 2; i++) await fetch(`${untrusted.url}/`, { headers: THROUGH_NGINX });
  assert.equal(logs.untrusted.warnings().length, 1);

  for (let i = 0; i < 2; i++) await fetch(`${fine.url}/`, { headers: THROUGH_NGINX });
  assert.deepEqual(logs.fine.warnings(), []);
  assert.equal((await health(fine.url)).body.details.http.problem, null);
});
