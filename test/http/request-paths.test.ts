import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { errorHandler } from '../../src/http/errors.js';
import { createLogger } from '../../src/log.js';
import type { RunningServer } from '../../src/server.js';
import { tempDir, testConfig, UNREACHABLE_DISCORD, WEBHOOK_SECRET, type TempDir } from '../support/config.js';
import { startTestServer } from '../support/server.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';

function logSink() {
  const sink = { output: '', stream: null as unknown as Writable };
  sink.stream = new Writable({
    write(chunk, _encoding, done) {
      sink.output += chunk.toString();
      done();
    },
  });
  return sink;
}

/** Every character percent-encoded, as a client may legally send it. */
const encodeAll = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

describe('request paths in the access log and in errors', () => {
  let dir: TempDir;
  let app: RunningServer;
  const log = logSink();
  before(async () => {
    dir = tempDir();
    app = await startTestServer(testConfig(dir.path, UNREACHABLE_DISCORD), { log: createLogger('trace', log.stream) });
    const body = eventBody({ subscription_id: 'sub_paths', customer_email: 'paths@example.com' });
    await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body));
    await app.services.worker.idle();
  });
  after(async () => {
    await app.stop();
    dir.remove();
  });

  test('a live link token never reaches the log, however the path is spelled', async () => {
    const { token } = app.services.tokens.issue('sub_paths');
    const firstEncoded = `${encodeAll(token.slice(0, 1))}${token.slice(1)}`;
    const spellings: [path: string, secretPart: string][] = [
      [`/link/${token}`, token],
      [`/LINK/${token}`, token],
      [`/Link/${token}/`, token],
      [`/link/${token}/`, token],
      [`/%6Cink/${token}`, token],
      [`/%6c%69%6e%6b/${token}`, token],
      [`/link/${encodeAll(token)}`, encodeAll(token)],
      [`/link/${firstEncoded}`, firstEncoded],
      [`//link/${token}`, token],
      [`/link//${token}`, token],
      [`/link/${token}/more`, token],
      [`/link%2F${token}`, token],
      [`/link/${token}%E0%A4%A`, token],
      [`/somewhere/${token}`, token],
    ];
    const start = log.output.length;
    const answered: number[] = [];
    for (const [path] of spellings) {
      const res = await fetch(`${app.url}${path}?x=1`, { redirect: 'manual', headers: { accept: 'text/html' } });
      answered.push(res.status);
      await res.arrayBuffer();
    }
    // The case-insensitive spellings are routed: the token was live and used as one.
    assert.equal(answered[1], 303);
    assert.equal(answered[2], 303);
    assert.equal(app.services.tokens.check(token).status, 'valid');
    const written = log.output.slice(start);
    const lines = written.split('\n').filter((l) => l.includes('"msg":"request"'));
    assert.equal(lines.length, spellings.length, 'every request was logged');
    spellings.forEach(([path, secretPart], i) => {
      assert.equal(lines[i]!.includes(secretPart), false, `${path} put the token in the log: ${lines[i]}`);
    });
    assert.equal(written.includes(token.slice(0, 20)), false, 'part of the token is in the log');
    assert.ok(lines[1]!.includes('"path":"/LINK/:token"'), 'the masked path keeps its shape');
  });

  test('a malformed percent-encoding is a 400 with the friendly page, and nothing of it is logged', async () => {
    const before = log.output.length;
    const res = await fetch(`${app.url}/link/%E0%A4%A`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
    const page = await res.text();
    assert.match(page, /not valid/);
    assert.doesNotMatch(page, /E0%A4%A|Failed to decode/);
    const json = await fetch(`${app.url}/LINK/%E0%A4%A/`, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 400);
    assert.equal(((await json.json()) as { error: { code: string } }).error.code, 'bad_request');
    const written = log.output.slice(before);
    assert.doesNotMatch(written, /E0%A4%A|%A4|Failed to decode|unhandled error/);
    assert.doesNotMatch(written, /"level":"error"/);
  });
});

test('a malformed parameter is a 400 on any route that has parameters, logged nowhere', async (t) => {
  const log = logSink();
  const app = express();
  app.get('/things/:id', (req, res) => {
    res.send(String(req.params.id));
  });
  app.use(errorHandler(createLogger('trace', log.stream)));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const page = await fetch(`${url}/things/%E0%A4%A`, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 400);
  assert.doesNotMatch(await page.text(), /E0%A4%A/);
  assert.equal((await fetch(`${url}/things/%C3%A9`)).status, 200);
  assert.equal(log.output, '');
});
