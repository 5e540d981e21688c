import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClock } from '../support/clock.js';
import { tempDir, testConfig, WEBHOOK_SECRET } from '../support/config.js';
import { startTestServer, until } from '../support/server.js';
import { startSmtp } from '../../stand-ins/smtp.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';

test('a mail server down for more than a day still gets the link email once it is back', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  const clock = testClock();
  // Take a port for the mail server, then take the server away.
  const first = await startSmtp();
  const port = first.port;
  await first.close();
  const app = await startTestServer(testConfig(dir.path, { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port) }), { clock });
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  t.after(async () => {
    await app.stop();
    await smtp?.close();
    dir.remove();
  });
  const body = eventBody({ subscription_id: 'sub_outage', customer_email: 'outage@example.com' });
  assert.equal((await postWebhook(app.url, body, standardHeaders(WEBHOOK_SECRET, body))).status, 200);

  const attempts = () => app.services.db.prepare(`SELECT attempts FROM jobs WHERE kind = 'link_email'`).pluck().get() as number;
  // Each failed attempt moves the clock two hours on: 15 attempts are 30 hours of outage.
  let seen = 0;
  await until(() => {
    const now = attempts();
    if (now > seen) {
      clock.advance((now - seen) * 2 * 3_600_000);
      seen = now;
    }
    return now >= 15;
  }, 30_000, '15 failed attempts');
  assert.equal(app.services.jobs.counts().dead, 0);

  smtp = await startSmtp(port);
  const mail = await smtp.mailTo('outage@example.com', 20_000);
  assert.match(mail.text, /\/link\//);
  await app.services.worker.idle();
  assert.equal(app.services.jobs.counts().dead, 0);
});
