import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfig, UNREACHABLE_DISCORD, WEBHOOK_SECRET } from '../support/config.js';
import { startTestServer, until } from '../support/server.js';
import { linkIn, startSmtp } from '../../stand-ins/smtp.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';

test('the link email arrives over SMTP and its link leads to Discord sign-in without spending the token', async (t) => {
  const dir = tempDir();
  const smtp = await startSmtp();
  const app = await startTestServer(
    testConfig(dir.path, {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      ...UNREACHABLE_DISCORD,
      DISCORD_AUTHORIZE_URL: 'https://discord.example/oauth2/authorize',
    }),
  );
  t.after(async () => {
    await app.stop();
    await smtp.close();
    dir.remove();
  });
  const body = eventBody({ customer_name: 'Ada Lovelace', tier: 'ascended' });
  assert.equal((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 200);
  const mail = await smtp.mailTo('ada@example.com');
  assert.match(mail.subject, /ascended/);
  assert.match(mail.text, /Hello Ada Lovelace/);
  assert.match(mail.text, /works once and until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  const link = linkIn(mail.text);
  assert.ok(mail.html.includes(link));
  const path = new URL(link).pathname;
  for (let i = 0; i < 2; i++) {
    const res = await fetch(app.url + path, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location') ?? '', /^https:\/\/discord\.example\/oauth2\/authorize\?/);
  }
  assert.equal(app.services.tokens.check(path.split('/').pop()!).status, 'valid');
});

test('with SMTP down the email job is retried and the mail arrives once SMTP is back, exactly once', async (t) => {
  const dir = tempDir();
  // Find a free port, then leave it closed so that connections are refused.
  const probe = await startSmtp();
  const port = probe.port;
  await probe.close();
  const app = await startTestServer(testConfig(dir.path, { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port) }));
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  t.after(async () => {
    await app.stop();
    await smtp?.close();
    dir.remove();
  });
  const body = eventBody({ customer_email: 'grace@example.com', subscription_id: 'sub_smtp' });
  assert.equal((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 200);
  const failing = await until(() => {
    const job = app.services.db.prepare(`SELECT * FROM jobs WHERE kind = 'link_email'`).get() as { attempts: number; status: string; last_error: string } | undefined;
    return job && job.attempts >= 2 && job;
  }, 10_000, 'two failed attempts');
  assert.equal(failing.status === 'pending' || failing.status === 'running', true);
  assert.match(failing.last_error, /email_failed/);

  smtp = await startSmtp(port);
  await smtp.mailTo('grace@example.com');
  await until(() => (app.services.db.prepare(`SELECT status FROM jobs WHERE kind = 'link_email'`).pluck().get() as string) === 'done');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(smtp.messages.length, 1);
  // Every failed attempt made a token that was never delivered; only the delivered one is still usable.
  const usable = app.services.db.prepare(`SELECT COUNT(*) FROM link_tokens WHERE subscription_id = 'sub_smtp' AND revoked_at IS NULL`).pluck().get();
  assert.equal(usable, 1);
});

test('with STARTTLS required and a server that does not offer it, nothing goes out in clear and the job retries with a clear error', async (t) => {
  const dir = tempDir();
  // The test server offers no STARTTLS, like a server whose STARTTLS was stripped on the way.
  const smtp = await startSmtp();
  const config = testConfig(dir.path, { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  // A relay on loopback is exempt from the rule; this one is treated like a server across the network.
  const app = await startTestServer({ ...config, smtp: { ...config.smtp!, requireTls: true } });
  t.after(async () => {
    await app.stop();
    await smtp.close();
    dir.remove();
  });
  const body = eventBody({ customer_email: 'tls@example.com', subscription_id: 'sub_tls' });
  assert.equal((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 200);
  const failing = await until(() => {
    const job = app.services.db.prepare(`SELECT * FROM jobs WHERE kind = 'link_email'`).get() as { attempts: number; status: string; last_error: string } | undefined;
    return job && job.attempts >= 2 && job;
  }, 10_000, 'two failed attempts');
  assert.ok(failing.status === 'pending' || failing.status === 'running', failing.status);
  assert.match(failing.last_error, /email_failed/);
  assert.match(failing.last_error, /STARTTLS/);
  assert.match(failing.last_error, /SMTP_REQUIRE_TLS/);
  assert.equal(smtp.messages.length, 0);
});
