import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runMain } from '../support/child.js';
import { tempDir, TIERS, UNREACHABLE_DISCORD, WEBHOOK_SECRET } from '../support/config.js';
import { startSmtp } from '../../stand-ins/smtp.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';
import { writeFileSync } from 'node:fs';
import { until } from '../support/server.js';

test('SIGKILL in the middle of a burst: every webhook answered 2xx is kept and its email is sent exactly once', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  const smtp = await startSmtp();
  let second: ReturnType<typeof runMain> | undefined;
  let db: Database.Database | undefined;
  t.after(async () => {
    db?.close();
    second?.process.kill('SIGTERM');
    await second?.exited;
    await smtp.close();
    dir.remove();
  });
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  const env = {
    NODE_ENV: 'production',
    PORT: '0',
    APP_URL: 'http://127.0.0.1:3500',
    DATA_DIR: join(dir.path, 'data'),
    ROLES_FILE: join(dir.path, 'roles.json'),
    WEBHOOK_SECRET,
    SESSION_SECRET: 'crash-test-session-secret-0123456789abcdef',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    EMAIL_FROM: 'Arbiter <arbiter@example.test>',
    // Discord stays unreachable, which must not matter for intake and email.
    ...UNREACHABLE_DISCORD,
    LOG_LEVEL: 'info',
  };

  // Mail is read but not acknowledged during the burst, so the kill lands while emails are mid-send.
  smtp.hold();
  const first = runMain(env, dir.path);
  const url = await first.url;
  const total = 60;
  const accepted: string[] = [];
  let killed = false;
  const send = async (i: number) => {
    const body = eventBody({ subscription_id: `sub_${i}`, customer_email: `user${i}@example.com`, event_id: `evt_${i}` });
    try {
      const res = await postWebhook(url, body, standardHeaders(WEBHOOK_SECRET, body, { id: `msg_${i}` }));
      if (res.status === 200) accepted.push(`sub_${i}`);
      if (accepted.length === 20 && !killed) {
        killed = true;
        first.process.kill('SIGKILL');
      }
    } catch {
      // the connection died with the process
    }
  };
  for (let i = 0; i < total; i += 6) await Promise.all(Array.from({ length: 6 }, (_, k) => send(i + k)));
  const exit = await first.exited;
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(accepted.length >= 20 && accepted.length < total, `accepted ${accepted.length}`);
  assert.equal(smtp.messages.length, 0);

  smtp.release();
  second = runMain(env, dir.path);
  await second.url;

  db = new Database(join(dir.path, 'data', 'arbiter.db'), { readonly: true });
  const stored = new Set(db!.prepare('SELECT subscription_id FROM webhook_events').pluck().all() as string[]);
  for (const id of accepted) assert.ok(stored.has(id), `${id} was answered 200 but is not in the database`);

  await until(() => smtp.messages.length >= stored.size, 20_000, `${stored.size} emails`);
  await until(() => (db!.prepare(`SELECT COUNT(*) FROM jobs WHERE kind = 'link_email' AND status <> 'done'`).pluck().get() as number) === 0, 10_000, 'all email jobs done');
  await new Promise((r) => setTimeout(r, 300));
  const perAddress = new Map<string, number>();
  for (const m of smtp.messages) perAddress.set(m.to, (perAddress.get(m.to) ?? 0) + 1);
  for (const id of stored) assert.equal(perAddress.get(`user${id.slice(4)}@example.com`), 1, `emails for ${id}`);
  assert.equal(smtp.messages.length, stored.size);
});
