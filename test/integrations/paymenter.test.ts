/**
 * The Paymenter extension (integrations/paymenter): its shared vectors checked with Arbiter's own verification, its
 * PHP tests run with php-cli, and its sending code posting to a real Arbiter.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { webhookKey } from '../../src/config.js';
import { EVENT_TYPES, parseBody } from '../../src/webhooks/payload.js';
import { verifyStandard } from '../../src/webhooks/signature.js';
import { WEBHOOK_SECRET } from '../support/config.js';
import { requireTool } from '../support/tools.js';
import { startWorld, type World } from '../support/world.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'integrations/paymenter');

interface Vectors {
  secret: string;
  messages: { name: string; input: { name: string; email: string; tier: string; service_id: number }; id: string; timestamp: number; body: string; signature: string }[];
  mapping: { name: string; change: Record<string, unknown>; event: string | null }[];
}
const vectors = JSON.parse(readFileSync(join(DIR, 'tests/vectors.json'), 'utf8')) as Vectors;

function php(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = requireTool('php', 'php-cli');
  return new Promise((resolve) => {
    // Asynchronous: the Arbiter these scripts post to runs in this process and must go on answering.
    execFile(bin, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('shared vectors, verified by Arbiter', () => {
  const key = webhookKey(vectors.secret);

  for (const v of vectors.messages) {
    test(`signature verifies: ${v.name}`, () => {
      const headers = { 'webhook-id': v.id, 'webhook-timestamp': String(v.timestamp), 'webhook-signature': v.signature };
      const body = Buffer.from(v.body, 'utf8');
      const verified = verifyStandard(headers, body, [key], new Date(v.timestamp * 1000));
      assert.deepEqual(verified, { ok: true, scheme: 'standard', webhookId: v.id, timestamp: v.timestamp });

      for (const at of [0, Math.floor(body.length / 2), body.length - 1]) {
        const tampered = Buffer.from(body);
        tampered[at] = tampered[at]! ^ 0x01;
        const refused = verifyStandard(headers, tampered, [key], new Date(v.timestamp * 1000));
        assert.equal(refused.ok, false, `byte ${at} changed`);
        assert.equal(!refused.ok && refused.code, 'webhook_bad_signature');
      }
    });

    test(`body is a valid event for Arbiter: ${v.name}`, () => {
      const parsed = parseBody(Buffer.from(v.body, 'utf8'));
      assert.equal(parsed.kind, 'event', JSON.stringify(parsed));
      if (parsed.kind !== 'event') return;
      assert.equal(parsed.event.subscription_id, String(v.input.service_id));
      assert.equal(parsed.event.event_id, v.id);
      assert.equal(parsed.event.customer_name, v.input.name.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim());
    });
  }

  test('the non-ASCII name is sent as UTF-8 bytes, not as \\u escapes', () => {
    const v = vectors.messages.find((m) => m.input.name === 'Zoë Ångström 山田');
    assert.ok(v);
    assert.ok(Buffer.from(v.body, 'utf8').includes(Buffer.from('Zoë Ångström 山田', 'utf8')));
    assert.doesNotMatch(v.body, /\\u/);
  });

  test('every mapped event is one Arbiter knows', () => {
    for (const m of vectors.mapping) if (m.event !== null) assert.ok((EVENT_TYPES as readonly string[]).includes(m.event), m.name);
  });
});

test('the PHP tests pass under php-cli', async () => {
  const run = await php([join(DIR, 'tests/run.php')]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^\d+ passed, 0 failed$/m);
});

describe('the PHP sender, posting to a real Arbiter', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(() => w.stop());

  // The time of the change, fixed: a retry of the same change is signed anew but carries the same event.
  const changedAt = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
  const send = (secret: string) =>
    php(
      [
        join(DIR, 'tests/send.php'),
        JSON.stringify({
          url: `${w.app.url}/webhook/billing`,
          tiers: '# test shop\n7=awakened',
          at: changedAt,
          change: { kind: 'updated', from: 'pending', to: 'active' },
          service: { id: '4242', product_id: '7', product_slug: 'basic', email: 'zoe@example.com', name: 'Zoë Ångström 山田' },
        }),
      ],
      { ARBITER_SECRET: secret },
    );
  const result = (out: { stdout: string }) => JSON.parse(out.stdout) as { event: string; id: string; status: number; body: string; verdict: string; summary: string };

  test('a paid order is accepted as subscription.created and the link email arrives; the same change again is a duplicate', async () => {
    const first = await send(WEBHOOK_SECRET);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const sent = result(first);
    assert.equal(sent.event, 'subscription.created');
    assert.equal(sent.status, 200);
    assert.deepEqual(JSON.parse(sent.body), { status: 'accepted' });
    assert.equal(sent.verdict, 'done');

    const link = await w.linkFor('zoe@example.com');
    assert.match(link, /\/link\/[A-Za-z0-9_-]{43}$/);
    const subscription = w.app.services.db.prepare('SELECT name, tier, status FROM subscriptions WHERE subscription_id = ?').get('4242');
    assert.deepEqual({ ...(subscription as object) }, { name: 'Zoë Ångström 山田', tier: 'awakened', status: 'active' });

    const again = result(await send(WEBHOOK_SECRET));
    assert.equal(again.id, sent.id, 'the same change has the same event id');
    assert.equal(again.status, 200);
    assert.deepEqual(JSON.parse(again.body), { status: 'duplicate' });
    assert.equal(w.smtp.messages.filter((m) => m.to === 'zoe@example.com').length, 1);
  });

  test('a wrong secret gets 401, which the PHP side calls permanent', async () => {
    const wrong = await send(`whsec_${Buffer.from('another-secret-of-32-bytes-long!').toString('base64')}`);
    assert.equal(wrong.code, 2, wrong.stdout + wrong.stderr);
    const answer = result(wrong);
    assert.equal(answer.status, 401);
    assert.equal(answer.verdict, 'permanent');
    assert.match(answer.summary, /HTTP 401: .*webhook_bad_signature/);
    assert.doesNotMatch(wrong.stdout + wrong.stderr, /YW5vdGhlci1zZWNyZXQ/, 'the secret is never printed');
  });
});
