import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AuditRow } from '../../src/audit/log.js';
import { linkSubscriber } from '../support/admin.js';
import { arbiter } from '../support/cli.js';
import { Browser, startWorld, type World } from '../support/world.js';

let w: World;
before(async () => {
  w = await startWorld({ env: { RECONCILE_INTERVAL_MINUTES: '0' } });
});
after(() => w.stop());

const resend = (args: string[], env: Record<string, string> = {}) => arbiter(['resend-link', ...args], { ...w.env, ...env }, w.dir.path);

function snapshot() {
  const db = w.app.services.db;
  return {
    audit: db.prepare('SELECT COUNT(*) FROM audit_logs').pluck().get(),
    jobs: db.prepare('SELECT COUNT(*) FROM jobs').pluck().get(),
    tokens: db.prepare('SELECT COUNT(*) FROM link_tokens').pluck().get(),
    mails: w.smtp.messages.length,
  };
}

test('an unlinked active subscription gets a new link, sent by the running Arbiter; the older link stops working', async () => {
  await w.event({ subscription_id: 'sub_rita', customer_email: 'rita@example.com', customer_name: 'Rita' });
  const first = await w.linkFor('rita@example.com');
  await w.settle();

  const run = await resend(['  Rita@Example.COM ']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /Sent a new link to rita@example.com/);
  const second = await w.linkFor('rita@example.com', 2);
  assert.notEqual(second, first);

  const old = await new Browser().get(first);
  assert.equal(old.status, 410);
  assert.match(await old.text(), /newer link/);
  const fresh = await new Browser().get(second);
  assert.equal(fresh.status, 303);
  assert.match(fresh.headers.get('location') ?? '', /oauth2\/authorize/);

  const asked = w.app.services.db.prepare("SELECT * FROM audit_logs WHERE action = 'link.resend_requested'").get() as AuditRow;
  assert.match(asked.actor, /^cli:\S+$/);
  assert.match(asked.actor_name ?? '', /\(command line\)$/);
  assert.equal(asked.subscription_id, 'sub_rita');
  assert.equal(asked.email, 'rita@example.com');
});

test('an unknown email, a linked subscription or a cancelled one: exit 1 with words, nothing changed', async () => {
  await linkSubscriber(w, { subscription_id: 'sub_lena', customer_email: 'lena@example.com' }, { id: '620000000000000001', username: 'lena' });
  await w.event({ subscription_id: 'sub_carl', customer_email: 'carl@example.com' });
  await w.linkFor('carl@example.com');
  await w.event({ subscription_id: 'sub_carl', customer_email: 'carl@example.com', event: 'subscription.cancelled' });
  await w.settle();
  const before = snapshot();

  const unknown = await resend(['nobody@example.com']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /No subscription has the email nobody@example.com\. Nothing was changed\./);

  const linked = await resend(['lena@example.com']);
  assert.equal(linked.code, 1);
  assert.match(linked.stderr, /lena@example.com has no active subscription waiting for a link: sub_lena is already linked to Discord ID 620000000000000001/);

  const cancelled = await resend(['carl@example.com']);
  assert.equal(cancelled.code, 1);
  assert.match(cancelled.stderr, /sub_carl is cancelled/);

  const invalid = await resend(['not-an-email']);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /"not-an-email" is not an email address/);

  assert.deepEqual(snapshot(), before);
});

test('with no Arbiter running, the link is queued and sent once it runs', async () => {
  await w.event({ subscription_id: 'sub_quinn', customer_email: 'quinn@example.com' });
  await w.linkFor('quinn@example.com');
  await w.settle();
  await w.app.stop();
  try {
    const run = await resend(['quinn@example.com']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /queued/);
    assert.match(run.stdout, /when Arbiter (runs|starts)/);
  } finally {
    await w.restart({ RECONCILE_INTERVAL_MINUTES: '0' });
  }
  await w.linkFor('quinn@example.com', 2);
});
