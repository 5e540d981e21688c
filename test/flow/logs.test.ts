import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { WEBHOOK_SECRET } from '../support/config.js';
import { until } from '../support/server.js';
import { Browser, ROLE, startWorld } from '../support/world.js';

test('nothing secret reaches the log: link token, OAuth code and state, access token, cookies, secrets', async (t) => {
  let output = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  const w = await startWorld({ log: createLogger('trace', sink) });
  t.after(() => w.stop());
  const user = { id: '800000000000000001', username: 'lin' };
  w.discord.addUser(user);
  w.discord.memberJoins(user.id, []);
  w.discord.signIn(user.id);
  await w.event({ subscription_id: 'sub_log', customer_email: 'lin@example.com' });
  const link = await w.linkFor('lin@example.com');
  const browser = new Browser();
  const { hops } = await browser.follow(link);
  await until(() => w.discord.member(user.id)?.roles.includes(ROLE.awakened), 10_000, 'roles');
  await w.settle();

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
  };
  assert.ok(output.includes('"msg":"request"'), 'the log was captured');
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(value && value.length > 8, `${name} was not found in the exchange`);
    assert.equal(output.includes(value), false, `${name} appears in the log`);
  }
  // express-session's cookie is s:<session id>.<signature>, URL-encoded.
  const cookie = decodeURIComponent(browser.cookie(new URL(w.app.url).host, 'arbiter.sid') ?? '');
  const sessionId = /^s:([^.]+)\./.exec(cookie)?.[1] ?? '';
  assert.ok(sessionId.length > 10);
  assert.equal(output.includes(sessionId), false, 'the session id appears in the log');
});
