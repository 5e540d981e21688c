import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { Browser, startWorld, type World } from '../support/world.js';

let next = 900000000000000000n;

/** A subscriber with a fresh link whose browser has been to Discord and holds Discord's redirect back, unfollowed. */
async function atDiscord(w: World, n: string) {
  const user = { id: String(++next), username: `oauth${next}` };
  w.discord.addUser(user);
  const email = `oauth${n}@example.com`;
  await w.event({ subscription_id: `sub_oauth${n}`, customer_email: email });
  const link = await w.linkFor(email);
  const browser = new Browser();
  const toDiscord = await browser.get(link);
  w.discord.signIn(user.id);
  const back = await browser.get(toDiscord.headers.get('location')!);
  return { browser, link, callback: back.headers.get('location')!, sub: `sub_oauth${n}` };
}

const tokenRequests = (w: World) => w.discord.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/oauth2/token')).length;

describe('Discord token endpoint answers', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(() => w.stop());

  test('a 429 with a short retry_after is waited out once, and the sign-in completes', async () => {
    const s = await atDiscord(w, 'a');
    w.discord.addFault({ method: 'POST', path: '/oauth2/token', status: 429, retryAfter: 0.2 });
    const requests = tokenRequests(w);
    const res = await s.browser.get(s.callback);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/linked');
    assert.equal(tokenRequests(w), requests + 2);
    assert.ok(w.app.services.subscriptions.get(s.sub)?.discord_id);
  });

  test('a 429 that persists, or asks for a long wait, says Discord is busy; the link still works', async () => {
    for (const fault of [{ retryAfter: 0.2, times: 2 }, { retryAfter: 30, times: 1 }]) {
      const s = await atDiscord(w, `b${fault.times}`);
      w.discord.addFault({ method: 'POST', path: '/oauth2/token', status: 429, ...fault });
      const requests = tokenRequests(w);
      const res = await s.browser.get(s.callback);
      assert.equal(res.status, 503);
      const page = await res.text();
      assert.match(page, /Discord is busy, try again in a minute/);
      assert.doesNotMatch(page, /used already/);
      assert.equal(tokenRequests(w), requests + fault.times, 'one retry at most, and none for a long wait');
      assert.equal(w.app.services.tokens.check(s.link.split('/').pop()!).status, 'valid');
      assert.equal(w.app.services.subscriptions.get(s.sub)?.discord_id, null);
      w.discord.clearFaults();
    }
    assert.equal(w.app.services.audit.list({ action: 'link.discord_busy' }).length, 2);
    assert.equal(w.app.services.oauth.lastConfigProblem, null);
  });

  test('a code Discord calls invalid_grant may have been used already', async () => {
    const s = await atDiscord(w, 'c');
    w.discord.addFault({ method: 'POST', path: '/oauth2/token', status: 400, body: { error: 'invalid_grant', error_description: 'Invalid "code" in request.' } });
    const res = await s.browser.get(s.callback);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /may have been used already/);
    assert.equal(w.app.services.oauth.lastConfigProblem, null);
  });
});

test('a client secret Discord rejects is a configuration problem: logged as one, kept for /health, and told honestly', async (t) => {
  let output = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  const wrongSecret = 'a-client-secret-discord-does-not-know';
  const w = await startWorld({ env: { DISCORD_CLIENT_SECRET: wrongSecret }, log: createLogger('trace', sink) });
  t.after(() => w.stop());
  const s = await atDiscord(w, 'd');
  const before = Date.now();
  const res = await s.browser.get(s.callback);
  assert.equal(res.status, 503);
  const page = await res.text();
  assert.match(page, /on our side/);
  assert.doesNotMatch(page, /used already|DISCORD_CLIENT|secret/i);
  assert.equal(w.app.services.tokens.check(s.link.split('/').pop()!).status, 'valid');

  const problem = w.app.services.oauth.lastConfigProblem;
  assert.ok(problem, 'the problem is kept');
  assert.match(problem.message, /Discord rejected DISCORD_CLIENT_ID\/DISCORD_CLIENT_SECRET/);
  assert.ok(Date.parse(problem.at) >= before - 1000);
  const errors = output.split('\n').filter((l) => l.includes('"level":"error"'));
  assert.ok(errors.some((l) => l.includes('Discord rejected DISCORD_CLIENT_ID/DISCORD_CLIENT_SECRET')), output);
  assert.equal(output.includes(wrongSecret), false, 'the secret is in the log');
  assert.equal(w.app.services.audit.list({ action: 'link.discord_misconfigured' }).length, 1);
});
