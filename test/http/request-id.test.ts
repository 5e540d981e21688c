import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { accessLog } from '../../src/http/access-log.js';
import { errorHandler } from '../../src/http/errors.js';
import { requestId } from '../../src/http/request-id.js';
import { createLogger } from '../../src/log.js';
import type { RunningServer } from '../../src/server.js';
import { tempDir, testConfig, type TempDir } from '../support/config.js';
import { startTestServer } from '../support/server.js';

type Line = Record<string, unknown> & { msg: string };

function logLines() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** What nginx's $request_id looks like. */
const NGINX_ID = '3f2a9c0d1e4b5a697887766554433221';

describe('X-Request-Id', () => {
  let dir: TempDir;
  let app: RunningServer;
  const logs = logLines();
  before(async () => {
    dir = tempDir();
    app = await startTestServer(testConfig(dir.path), { log: logs.log });
  });
  after(async () => {
    await app.stop();
    dir.remove();
  });

  const accessLine = (id: string) => logs.lines.find((l) => l.msg === 'request' && l.reqId === id);

  test('a valid incoming id is kept, echoed and carried by the access-log line', async () => {
    for (const id of [NGINX_ID, 'req-1.2_3ABC', 'x'.repeat(64)]) {
      const res = await fetch(`${app.url}/health`, { headers: { 'X-Request-Id': id } });
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-request-id'), id);
      const line = accessLine(id);
      assert.ok(line, `no access-log line with ${id}`);
      assert.equal(line.path, '/health');
    }
  });

  test('a missing or unsafe id is replaced by a fresh one, which the log line carries', async () => {
    const seen = new Set<string>();
    for (const given of [undefined, 'short', 'x'.repeat(65), 'has space in it', 'quote"and<angle>', 'ünïcödé-id-value', 'a/b/c/d/e/f/g']) {
      const res = await fetch(`${app.url}/nowhere`, { headers: given === undefined ? {} : { 'X-Request-Id': given } });
      await res.arrayBuffer();
      const id = res.headers.get('x-request-id') ?? '';
      assert.match(id, UUID, String(given));
      assert.ok(!seen.has(id), 'ids are not reused');
      seen.add(id);
      assert.equal(accessLine(id)?.status, 404);
      if (given !== undefined) assert.equal(JSON.stringify(logs.lines).includes(given), false, `${given} reached the log`);
    }
  });
});

test('the error line of a request carries the request id of its access-log line', async (t) => {
  const logs = logLines();
  const app = express();
  app.use(requestId(logs.log));
  app.use(accessLog(logs.log));
  app.get('/boom', () => {
    throw new Error('the disk is on fire');
  });
  app.use(errorHandler(logs.log));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const res = await fetch(`${url}/boom`, { headers: { 'X-Request-Id': NGINX_ID, accept: 'application/json' } });
  assert.equal(res.status, 500);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'internal');
  assert.equal(res.headers.get('x-request-id'), NGINX_ID);
  const error = logs.lines.find((l) => l.msg === 'unhandled error');
  assert.ok(error, 'the error was logged');
  assert.equal(error.reqId, NGINX_ID);
  assert.equal(logs.lines.find((l) => l.msg === 'request')?.reqId, NGINX_ID);
});
