import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfig } from '../support/config.js';
import { startTestServer } from '../support/server.js';

test('GET /health reports version, uptime, parts and jobs; 503 once the database is gone', async (t) => {
  const dir = tempDir();
  const app = await startTestServer(testConfig(dir.path));
  t.after(async () => {
    await app.stop();
    dir.remove();
  });
  const ok = await fetch(`${app.url}/health`);
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as Record<string, unknown>;
  assert.equal(body.version, '2.0.0');
  assert.equal(body.database, 'ok');
  assert.equal(typeof body.uptime, 'number');
  assert.ok(!Number.isNaN(Date.parse(String(body.timestamp))));
  assert.deepEqual(body.discord, { status: 'not configured' });
  assert.equal(body.ghost, 'off');
  assert.deepEqual(body.jobs, { pending: 0, running: 0, done: 0, dead: 0 });

  await app.services.worker.stop();
  app.services.db.close();
  const down = await fetch(`${app.url}/health`);
  assert.equal(down.status, 503);
  assert.equal(((await down.json()) as { database: string }).database, 'down');
});
