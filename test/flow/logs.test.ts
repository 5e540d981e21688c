import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/log.js';
import { ADMIN, ADMIN_ENV, signIn } from '../support/admin.js';
import { WEBHOOK_SECRET } from '../support/config.js';
import { until } from '../support/server.js';
import { linkIn, startSmtp } from '../../stand-ins/smtp.js';
import { Browser, ROLE, startWorld } from '../support/world.js';

/** express-session's cookie is s:<session id>.<signature>, URL-encoded. */
function sessionIdOf(cookie: string | undefined): string {
  return /^s:([^.]+)\./.exec(decodeURIComponent(cookie ?? ''))?.[1] ?? '';
}

test('nothing secret reaches the log: link token, OAuth code and state, access token, cookies, secrets', async (t) => {
  let output = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  // Mail goes to a server that asks for the SMTP password, so that the password is really used.
  const smtpPass = randomBytes(18).toString('base64url');
  const mail = await startSmtp(0, { auth: { user: 'arbiter', pass: smtpPass } });
  const metricsToken = randomBytes(24).toString('hex');
  const w = await startWorld({
    log: createLogger('trace', sink),
    env: { ...ADMIN_ENV, SMTP_PORT: String(mail.port), SMTP_USER: 'arbiter', SMTP_PASS: smtpPass, METRICS_TOKEN: metricsToken, TRUST_PROXY: '1' },
  });
  t.after(async () => {
    await w.stop();
    await mail.close();
  });
  const user = { id: '800000000000000001', username: 'lin' };
  w.discord.addUser(user);
  w.discord.memberJoins(user.id, []);
  w.discord.signIn(user.id);
  await w.event({ subscription_id: 'sub_log', customer_email: 'lin@example.com' });
  const link = linkIn((await mail.mailTo('lin@example.com')).text);
  assert.deepEqual(mail.authenticated, ['arbiter']);
  const browser = new Browser();
  const { hops } = await browser.follow(link);
  await until(() => w.discord.member(user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles');
  await w.settle();
  // An admin signs in to the panel, and a monitor elsewhere reads /metrics with the token.
  const admin = new Browser();
  const { hops: adminHops, res: panel } = await signIn(w, admin, ADMIN);
  assert.equal(panel.status, 200);
  const metrics = await fetch(`${w.app.url}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.9', Authorization: `Bearer ${metricsToken}` } });
  assert.equal(metrics.status, 200);
  await metrics.text();

  const callback = new URL(hops.find((h) => h.includes('/auth/callback'))!);
  const tokenRequest = w.discord.requests.find((r) => r.path.endsWith('/oauth2/token'))!;
  const revoke = w.discord.requests.find((r) => r.path.endsWith('/oauth2/token/revoke'))!;
  const secrets = {
    linkToken: link.split('/').pop()!,
    code: callback.searchParams.get('code')!,
    state: callback.searchParams.get('state')!,
    accessToken: new URLSearchParams(revoke.body).get('token')!,
    clientSecret: new URLSearchParams(tokenRequest.body).get('client_secret')!,
    botToken: w.app.services.config.discord!.botToken,
    webhookSecret: WEBHOOK_SECRET.slice('whsec_'.length),
    sessionSecret: w.app.services.config.sessionSecret,
    smtpPass,
    metricsToken,
    adminCode: new URL(adminHops.find((h) => h.includes('/admin/callback'))!).searchParams.get('code')!,
    adminState: new URL(adminHops.find((h) => h.includes('/admin/callback'))!).searchParams.get('state')!,
    subscriberSession: sessionIdOf(browser.cookie(new URL(w.app.url).host, 'arbiter.sid')),
    adminSession: sessionIdOf(admin.cookie(new URL(w.app.url).host, 'arbiter.sid')),
  };
  assert.ok(output.includes('"msg":"request"'), 'the log was captured');
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(value && value.length > 8, `${name} was not found in the exchange`);
    assert.equal(output.includes(value), false, `${name} appears in the log`);
  }

  // One line per request, each with its request id; one line per job outcome, with its id, kind and attempts.
  const lines = output.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const requests = lines.filter((l) => l.msg === 'request');
  assert.ok(requests.length > 5);
  for (const line of requests) assert.match(String(line.reqId), /^[A-Za-z0-9._-]{8,64}$/, JSON.stringify(line));
  assert.equal(new Set(requests.map((l) => l.reqId)).size, requests.length, 'each request has its own id');
  for (const kind of ['link_email', 'reconcile', 'ghost_sync']) {
    const done = lines.filter((l) => l.kind === kind && l.outcome === 'done');
    assert.equal(done.length, 1, `${kind}: ${JSON.stringify(done)}`);
    assert.equal(done[0]!.level, 'info');
    assert.equal(typeof done[0]!.job, 'number');
    assert.equal(done[0]!.attempts, 1);
    assert.equal('payload' in done[0]!, false);
  }
});
