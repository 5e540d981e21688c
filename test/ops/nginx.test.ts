/**
 * nginx.conf, as shipped, in front of a real Arbiter: `nginx -t`, then a real nginx on loopback ports with a
 * self-signed certificate. Only the values a server has and a test machine lacks are rewritten (ports, certificate,
 * log and webroot paths, Arbiter's port); each must be found, so that the test breaks if the file changes shape.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/log.js';
import { tempDir, WEBHOOK_SECRET, type TempDir } from '../support/config.js';
import { until } from '../support/server.js';
import { requireTool } from '../support/tools.js';
import { eventBody, standardHeaders, type EventFields } from '../support/webhooks.js';
import { freePort, ROLE, startWorld, type World } from '../support/world.js';

const SITE_FILE = fileURLToPath(new URL('../../nginx.conf', import.meta.url));

/** Replaces every occurrence of `from`, which must occur `count` times. */
function rewrite(text: string, from: string, to: string, count: number): string {
  const found = text.split(from).length - 1;
  assert.equal(found, count, `nginx.conf should contain "${from}" ${count} time(s), found ${found}`);
  return text.replaceAll(from, to);
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection, from `localAddress`; https certificates are not checked (self-signed). */
function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {}): Promise<Answer> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: options.method ?? 'GET',
        headers: { accept: 'text/html', ...options.headers, ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}) },
        localAddress: options.localAddress,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function headerList(answer: Answer, name: string): string[] {
  const value = answer.headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function assertHsts(answer: Answer, what: string): void {
  assert.deepEqual(headerList(answer, 'strict-transport-security'), ['max-age=31536000; includeSubDomains'], `HSTS on ${what}`);
}

/** Arbiter's access-log lines (JSON) written so far. */
function requestLines(output: string): { method: string; path: string; ip: string; status: number }[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as { method: string; path: string; ip: string; status: number });
}

async function waitForPort(port: number, failure: () => string | undefined): Promise<void> {
  await until(
    () => {
      const failed = failure();
      if (failed !== undefined) throw new Error(failed);
      return new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    },
    10_000,
    `nginx on port ${port}`,
  );
}

describe('nginx.conf in front of Arbiter', () => {
  let dir: TempDir;
  let world: World;
  let nginx: ChildProcess;
  let nginxStderr = '';
  let arbiterLog = '';
  let mainConf: string;
  let nginxBinary: string;
  let tls: string;
  let plain: string;
  const file = (name: string) => join(dir.path, name);
  const accessLog = () => (existsSync(file('arbiter.access.log')) ? readFileSync(file('arbiter.access.log'), 'utf8') : '');
  const errorLog = () => (existsSync(file('arbiter.error.log')) ? readFileSync(file('arbiter.error.log'), 'utf8') : '');
  /** A signed billing event, posted through nginx as the billing system would. */
  const event = async (fields: EventFields) => {
    const body = eventBody(fields);
    const answer = await send(`${tls}/webhook/billing`, { method: 'POST', body, headers: standardHeaders(WEBHOOK_SECRET, body) });
    assert.equal(answer.status, 200, answer.body);
  };

  before(async () => {
    nginxBinary = requireTool('nginx', 'nginx');
    const openssl = requireTool('openssl', 'openssl');
    dir = tempDir('arbiter-nginx-');
    // When the tests run as root, nginx's workers run as nobody: they must reach the webroot and temp paths.
    chmodSync(dir.path, 0o755);
    const run = spawnSync(openssl, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-keyout', file('key.pem'), '-out', file('cert.pem'),
    ], { encoding: 'utf8' });
    assert.equal(run.status, 0, `openssl: ${run.error?.message ?? run.stderr}`);
    mkdirSync(file('www/.well-known/acme-challenge'), { recursive: true });
    writeFileSync(file('www/.well-known/acme-challenge/renewal-check'), 'challenge answer');

    const tlsPort = await freePort();
    const httpPort = await freePort();
    tls = `https://127.0.0.1:${tlsPort}`;
    plain = `http://127.0.0.1:${httpPort}`;
    const sink = new Writable({
      write(chunk, _encoding, done) {
        arbiterLog += chunk.toString();
        done();
      },
    });
    world = await startWorld({ env: { APP_URL: tls }, log: createLogger('info', sink) });
    const arbiterPort = new URL(world.app.url).port;

    let site = readFileSync(SITE_FILE, 'utf8');
    site = rewrite(site, 'listen 80;', `listen 127.0.0.1:${httpPort};`, 1);
    site = rewrite(site, 'listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`, 1);
    // This machine may have no IPv6.
    site = rewrite(site, 'listen [::]:80;', '', 1);
    site = rewrite(site, 'listen [::]:443 ssl;', '', 1);
    site = rewrite(site, '/etc/letsencrypt/live/arbiter.example.com/fullchain.pem', file('cert.pem'), 1);
    site = rewrite(site, '/etc/letsencrypt/live/arbiter.example.com/privkey.pem', file('key.pem'), 1);
    site = rewrite(site, '/var/log/nginx/', `${dir.path}/`, 7);
    site = rewrite(site, 'root /var/www/letsencrypt;', `root ${file('www')};`, 1);
    site = rewrite(site, 'proxy_pass http://127.0.0.1:3500;', `proxy_pass http://127.0.0.1:${arbiterPort};`, 7);
    writeFileSync(file('site.conf'), site);
    mainConf = file('nginx.conf');
    writeFileSync(
      mainConf,
      [
        `pid ${file('nginx.pid')};`,
        `error_log ${file('nginx.error.log')};`,
        'events {}',
        'http {',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${file(`temp-${kind}`)};`),
        `  access_log ${file('nginx.access.log')};`,
        `  include ${file('site.conf')};`,
        '}',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    if (nginx?.pid !== undefined && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    await world?.stop();
    dir?.remove();
  });

  test('nginx -t accepts the site file', () => {
    const run = spawnSync(nginxBinary, ['-t', '-c', mainConf, '-e', file('nginx.error.log')], { encoding: 'utf8' });
    if (run.error) throw new Error(`nginx could not run: ${run.error.message}`);
    const output = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, output);
    assert.match(output, /syntax is ok/);
    assert.match(output, /test is successful/);
    assert.doesNotMatch(output, /\[(warn|error|crit|alert|emerg)\]/, output);
  });

  test('nginx starts with it', async () => {
    nginx = spawn(nginxBinary, ['-c', mainConf, '-e', file('nginx.error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let spawnError: Error | undefined;
    nginx.once('error', (err) => (spawnError = err));
    nginx.stderr!.on('data', (chunk: Buffer) => (nginxStderr += chunk.toString()));
    const failure = () =>
      spawnError ? `nginx could not run: ${spawnError.message}`
        : nginx.exitCode !== null ? `nginx exited with ${nginx.exitCode}: ${nginxStderr}` : undefined;
    await waitForPort(Number(new URL(tls).port), failure);
    await waitForPort(Number(new URL(plain).port), failure);
  });

  test('plain http is redirected to https, except the Let’s Encrypt challenge', async () => {
    const redirected = await send(`${plain}/link/new?x=1`);
    assert.equal(redirected.status, 301);
    assert.equal(redirected.headers.location, 'https://127.0.0.1/link/new?x=1');
    const challenge = await send(`${plain}/.well-known/acme-challenge/renewal-check`);
    assert.equal(challenge.status, 200);
    assert.equal(challenge.body, 'challenge answer');
  });

  test('a sign-in through nginx: Arbiter sees https and the client’s address, and nginx logs no secret', async () => {
    const user = { id: '800000000000000042', username: 'nia' };
    world.discord.addUser(user);
    world.discord.memberJoins(user.id, []);
    world.discord.signIn(user.id);
    await event({ subscription_id: 'sub_nginx', customer_email: 'nia@example.com' });
    const link = await world.linkFor('nia@example.com');
    assert.ok(link.startsWith(`${tls}/link/`), link);
    const token = link.slice(`${tls}/link/`.length);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);

    const visit = await send(link, { localAddress: '127.0.0.2' });
    assert.equal(visit.status, 303, visit.body);
    assertHsts(visit, 'a link visit');
    const cookie = headerList(visit, 'set-cookie').find((c) => c.startsWith('arbiter.sid='));
    assert.ok(cookie, 'a session cookie is set');
    assert.match(cookie, /;\s*Secure/i, 'the session cookie is Secure: Arbiter saw https');

    // Discord (the stand-in) sends the subscriber back to APP_URL, that is through nginx.
    const discord = await send(visit.headers.location!);
    const callback = discord.headers.location!;
    assert.ok(callback.startsWith(`${tls}/auth/callback?`), callback);
    const { searchParams } = new URL(callback);
    const done = await send(callback, { localAddress: '127.0.0.2', headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(done.status, 303, done.body);
    assert.equal(done.headers.location, '/linked');
    await until(() => world.discord.member(user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles given');

    const seen = await until(() => {
      const lines = requestLines(arbiterLog).filter((l) => l.path === '/link/:token' || l.path === '/auth/callback');
      return lines.length >= 2 && lines;
    }, 10_000, 'Arbiter’s access log');
    for (const line of seen) assert.equal(line.ip, '127.0.0.2', `Arbiter saw the client's address: ${JSON.stringify(line)}`);
    // Every request so far came through nginx (the events too): none looked like plain http to Arbiter.
    assert.doesNotMatch(arbiterLog, /requests arrive as http/);

    const logged = await until(() => {
      const text = accessLog();
      return /^127\.0\.0\.2 .*"GET \/auth\/callback HTTP\/1\.1" 303 /m.test(text) && text;
    }, 10_000, 'nginx’s access log');
    assert.match(logged, /^127\.0\.0\.2 .*"GET \/link\/:token HTTP\/1\.1" 303 /m);
    for (const secret of [token, token.slice(0, 20), searchParams.get('code')!, searchParams.get('state')!]) {
      assert.ok(secret.length >= 16);
      assert.equal(logged.includes(secret), false, `nginx logged a secret: ${secret}`);
      assert.equal(errorLog().includes(secret), false, `nginx's error log has a secret: ${secret}`);
    }
  });

  test('however a link is spelled, nginx logs it masked', async () => {
    await event({ subscription_id: 'sub_spelled', customer_email: 'spelled@example.com' });
    const token = (await world.linkFor('spelled@example.com')).split('/').pop()!;
    const encoded = [...token].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('');
    const spellings = [
      `/link/${token}`, `/LINK/${token}`, `/Link/${token}/`, `/%6Cink/${token}`, `/link/${encoded}`, `//link/${token}`,
      `/link//${token}`, `/link/${token}/more`, `/link%2F${token}`, `/link/${token}?utm=mail`, `/somewhere/${token}`,
    ];
    const before = accessLog().split('\n').length;
    for (const path of spellings) await send(`${tls}${path}`, { localAddress: '127.0.0.4' });
    const logged = await until(() => {
      const lines = accessLog().split('\n').slice(before - 1).filter((l) => l.startsWith('127.0.0.4 '));
      return lines.length === spellings.length && lines;
    }, 10_000, 'every request in nginx’s access log');
    for (const [i, line] of logged.entries()) {
      assert.equal(line.includes(token.slice(0, 20)), false, `${spellings[i]} was logged as ${line}`);
      assert.equal(line.includes(encoded.slice(0, 30)), false, `${spellings[i]} was logged as ${line}`);
    }
    assert.match(logged[1]!, /"GET \/link\/:token HTTP\/1\.1"/);
    assert.match(logged[10]!, /"GET \/somewhere\/:token HTTP\/1\.1"/);
  });

  test('other apps reach the OpenID Connect discovery and the API document through nginx, at the https address', async () => {
    const discovery = await send(`${tls}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
    assert.equal(discovery.status, 200, discovery.body);
    const issuer = (JSON.parse(discovery.body) as { issuer: string; token_endpoint: string });
    assert.equal(issuer.issuer, tls);
    assert.equal(issuer.token_endpoint, `${tls}/oidc/token`);
    const openapi = await send(`${tls}/api/v1/openapi.json`, { headers: { accept: 'application/json' } });
    assert.equal(openapi.status, 200, openapi.body);
    const unkeyed = await send(`${tls}/api/v1/members/80351110224678912`, { headers: { accept: 'application/json' } });
    assert.equal(unkeyed.status, 401);
  });

  test('a webhook larger than WEBHOOK_MAX_BYTES is refused by nginx; one of exactly that size reaches Arbiter', async () => {
    const base = eventBody({ subscription_id: 'sub_big', customer_email: 'big@example.com' });
    // A JSON object of exactly 65536 bytes: the event, padded with an extra field.
    const padded = (size: number) => `${base.slice(0, -1)},"padding":"${'x'.repeat(size - base.length - 13)}"}`;
    const exact = padded(65536);
    assert.equal(Buffer.byteLength(exact), 65536);
    const fits = await send(`${tls}/webhook/billing`, { method: 'POST', body: exact, headers: standardHeaders(WEBHOOK_SECRET, exact) });
    assert.notEqual(fits.status, 413, fits.body);
    assert.match(fits.headers['content-type'] ?? '', /application\/json/, 'Arbiter answered');

    const before = requestLines(arbiterLog).length;
    const tooBig = padded(65537);
    const refused = await send(`${tls}/webhook/billing`, { method: 'POST', body: tooBig, headers: standardHeaders(WEBHOOK_SECRET, tooBig) });
    assert.equal(refused.status, 413);
    assert.match(refused.body, /413 Request Entity Too Large[\s\S]*nginx/);
    assertHsts(refused, 'nginx’s own 413');
    await world.settle();
    assert.deepEqual(requestLines(arbiterLog).slice(before).filter((l) => l.status === 413), [], 'Arbiter never saw it');
  });

  test('link pages are rate-limited per address with 429, and the error log keeps no token', async () => {
    const token = 'Zz9_-'.repeat(8) + 'abc';
    assert.equal(token.length, 43);
    let answer: Answer | undefined;
    for (let i = 0; i < 100; i++) {
      answer = await send(`${tls}/LINK/${token}`, { localAddress: '127.0.0.3' });
      if (answer.status === 429) break;
      assert.equal(answer.status, 404, 'an unknown token, answered by Arbiter until nginx limits');
    }
    assert.equal(answer!.status, 429);
    assertHsts(answer!, 'nginx’s own 429');
    // Another address is not limited.
    assert.equal((await send(`${tls}/link/${token}`, { localAddress: '127.0.0.5' })).status, 404);
    await until(() => accessLog().includes('"GET /link/:token HTTP/1.1" 429 '), 10_000, 'the 429 in the access log');
    assert.equal(accessLog().includes(token), false);
    assert.equal(errorLog().includes(token), false, 'nginx’s error log quotes the request line of a limited request');
  });

  test('other answers carry HSTS once, in place of Arbiter’s own', async () => {
    const health = await send(`${tls}/health`);
    assert.equal(health.status, 200);
    assertHsts(health, '/health');
  });
});
