/**
 * The baseline for the email lane, in its own process: nodemailer's pool alone, with the connection count Arbiter's
 * mailer uses (read from src/email/mailer.ts) and Arbiter's transport options, sending link emails rendered once with
 * Arbiter's own template (a fresh token, so the same size as Arbiter's), each to its own recipient, all at once.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { smtpTransportOptions } from '../../src/email/mailer.js';
import { formatExpiry, linkEmailHtml, linkEmailText } from '../../src/linking/link-email.js';
import { path } from './processes.js';
import { emit, serve } from './rpc.js';
import { wallMs } from './time.js';

/** The pool size Arbiter's mailer is created with. */
function arbiterMaxConnections(): number {
  const source = readFileSync(path('src/email/mailer.ts'), 'utf8');
  const match = /pool: true, maxConnections: (\d+)/.exec(source);
  if (!match) throw new Error('could not find "pool: true, maxConnections: <n>" in src/email/mailer.ts');
  return Number(match[1]);
}

export interface BareSend {
  port: number;
  count: number;
  from: string;
  appUrl: string;
  /** Recipient i is <tag>-<i>@bench.example. */
  tag: string;
}

export interface BareResult {
  maxConnections: number;
  sent: number;
  failed: string[];
  startedAt: number;
  endedAt: number;
  messageBytes: number;
}

async function send(plan: BareSend): Promise<BareResult> {
  const maxConnections = arbiterMaxConnections();
  const name = 'Subscriber 1';
  const mail = {
    name,
    tier: 'awakened',
    link: `${plan.appUrl}/link/${randomBytes(32).toString('base64url')}`,
    expires: formatExpiry(new Date(Date.now() + 24 * 3_600_000)),
    requestUrl: `${plan.appUrl}/link/new`,
  };
  const subject = `Connect your Discord account to your ${mail.tier} subscription`;
  const text = linkEmailText(mail);
  const html = linkEmailHtml(mail);
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections,
    ...smtpTransportOptions({ host: '127.0.0.1', port: plan.port, secure: false, requireTls: false, user: undefined, pass: undefined }),
  });
  const failed: string[] = [];
  let sent = 0;
  emit('measuring');
  const startedAt = wallMs();
  await Promise.all(
    Array.from({ length: plan.count }, (_, i) =>
      transport.sendMail({ from: plan.from, to: `${plan.tag}-${i}@bench.example`, subject, text, html }).then(
        () => void sent++,
        (err: Error) => void failed.push(err.message),
      ),
    ),
  );
  const endedAt = wallMs();
  emit('measured');
  transport.close();
  return { maxConnections, sent, failed: failed.slice(0, 20), startedAt, endedAt, messageBytes: Buffer.byteLength(text) + Buffer.byteLength(html) };
}

serve({ send });
