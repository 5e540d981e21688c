import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../support/server.js';
import { Browser, ROLE, startWorld, type World } from '../support/world.js';

const ADA = { id: '500000000000000001', username: 'ada' };
const ADA_ALT = { id: '500000000000000002', username: 'ada_alt' };

describe('link flow: webhook -> email -> Discord -> roles -> Ghost', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
    w.discord.addUser(ADA);
    w.discord.addUser(ADA_ALT);
    w.ghost.addMember({ email: 'ada@example.com', name: 'Ada', note: 'VIP since 2020' });
  });
  after(() => w.stop());

  const audit = (action: string) => w.app.services.audit.list({ action });

  test('a subscriber goes from webhook to roles with one click and one consent', async () => {
    w.discord.memberJoins(ADA.id, [ROLE.booster]);
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada@example.com', tier: 'awakened' });
    const link = await w.linkFor('ada@example.com');

    w.discord.signIn(ADA.id);
    const browser = new Browser();
    const { hops, res } = await browser.follow(link);
    assert.equal(res.status, 200);
    assert.equal(new URL(hops.at(-1)!).pathname, '/linked');
    assert.ok(hops.some((h) => h.startsWith(w.discord.authorizeUrl)), 'went through Discord');
    assert.ok(hops.every((h) => !/\/linked\?|code=.*\/linked/.test(h)));
    const page = await res.text();
    assert.match(page, /awakened/);
    assert.match(page, /Awakened/);

    await until(() => w.discord.member(ADA.id)?.roles.includes(ROLE.awakened), 10_000, 'role on Discord');
    assert.deepEqual(w.discord.member(ADA.id)!.roles.sort(), [ROLE.awakened, ROLE.booster].sort());
    const change = w.discord.roleChanges.find((c) => c.userId === ADA.id && c.roleId === ROLE.awakened)!;
    assert.match(change.reason ?? '', /Arbiter/);
    assert.equal(w.app.services.subscriptions.get('sub_ada')?.discord_id, ADA.id);
    assert.equal(audit('role.added').filter((r) => r.discord_id === ADA.id).length, 1);

    await until(() => w.ghost.member('ada@example.com')?.note?.includes(`discord_id: ${ADA.id}`), 10_000, 'Ghost note');
    const member = w.ghost.member('ada@example.com')!;
    assert.equal(member.note, `VIP since 2020\n\ndiscord_id: ${ADA.id}`);
    assert.ok(member.labels.some((l) => l.name === 'discord'));
    // The OAuth access token was revoked after use.
    assert.ok(w.discord.requests.some((r) => r.path.endsWith('/oauth2/token/revoke')));
  });

  test('the spent link is refused the second time, with a way to ask for a new one', async () => {
    const link = await w.linkFor('ada@example.com');
    const res = await new Browser().get(link);
    assert.equal(res.status, 410);
    assert.match(await res.text(), /already used[\s\S]*href="\/link\/new"/);
  });

  test('upgrade adds the new tier roles; downgrade takes them away; unmanaged roles stay', async () => {
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada@example.com', event: 'subscription.upgraded', tier: 'ascended' });
    await until(() => w.discord.member(ADA.id)?.roles.includes(ROLE.ascended), 10_000, 'upgrade');
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada@example.com', event: 'subscription.downgraded', tier: 'awakened' });
    await until(() => !w.discord.member(ADA.id)?.roles.includes(ROLE.ascended), 10_000, 'downgrade');
    assert.deepEqual(w.discord.member(ADA.id)!.roles.sort(), [ROLE.awakened, ROLE.booster].sort());
  });

  test('suspend and cancel remove managed roles only; resume restores them without a new email', async () => {
    const mails = w.smtp.messages.length;
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada@example.com', event: 'subscription.suspended' });
    await until(() => !w.discord.member(ADA.id)?.roles.includes(ROLE.awakened), 10_000, 'suspend');
    assert.deepEqual(w.discord.member(ADA.id)!.roles, [ROLE.booster]);
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada@example.com', event: 'subscription.resumed' });
    await until(() => w.discord.member(ADA.id)?.roles.includes(ROLE.awakened), 10_000, 'resume');
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada@example.com', event: 'subscription.cancelled' });
    await until(() => !w.discord.member(ADA.id)?.roles.includes(ROLE.awakened), 10_000, 'cancel');
    assert.deepEqual(w.discord.member(ADA.id)!.roles, [ROLE.booster]);
    assert.equal(w.smtp.messages.length, mails);
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada@example.com', event: 'subscription.resumed' });
    await until(() => w.discord.member(ADA.id)?.roles.includes(ROLE.awakened), 10_000, 'resume after cancel');
  });

  test('a new email on a linked subscription writes the Discord ID onto that Ghost member too', async () => {
    w.ghost.addMember({ email: 'ada.new@example.com' });
    await w.event({ subscription_id: 'sub_ada', customer_email: 'ada.new@example.com', event: 'subscription.upgraded', tier: 'awakened' });
    await until(() => w.ghost.member('ada.new@example.com')?.note === `discord_id: ${ADA.id}`, 10_000, 'Ghost note on the new email');
  });

  test('a member who leaves and re-joins gets their roles back', async () => {
    w.discord.memberLeaves(ADA.id);
    await new Promise((r) => setTimeout(r, 50));
    w.discord.memberJoins(ADA.id, []);
    await until(() => w.discord.member(ADA.id)?.roles.includes(ROLE.awakened), 10_000, 'roles after re-join');
  });

  test('relinking to another account moves the roles; the first account loses only managed roles', async () => {
    w.discord.memberJoins(ADA_ALT.id, []);
    const browser = new Browser();
    const form = await (await browser.get(`${w.app.url}/link/new`)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form)![1]!;
    const sent = w.smtp.messages.filter((m) => m.to === 'ada.new@example.com').length;
    const answer = await browser.post(`${w.app.url}/link/new`, { email: 'ADA.new@example.com', _csrf: csrf });
    assert.equal(answer.status, 200);
    const link = await w.linkFor('ada.new@example.com', sent + 1);
    w.discord.signIn(ADA_ALT.id);
    const { res } = await new Browser().follow(link);
    assert.equal(res.status, 200);
    await until(() => w.discord.member(ADA_ALT.id)?.roles.includes(ROLE.awakened) && !w.discord.member(ADA.id)?.roles.includes(ROLE.awakened), 10_000, 'roles moved');
    assert.deepEqual(w.discord.member(ADA.id)!.roles, []);
    await until(() => w.ghost.member('ada.new@example.com')?.note?.includes(ADA_ALT.id), 10_000, 'Ghost updated to the new account');
    assert.equal((w.ghost.member('ada.new@example.com')!.note!.match(/discord_id:/g) ?? []).length, 1);
  });
});
