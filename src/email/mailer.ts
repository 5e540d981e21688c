import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config, SmtpConfig } from '../config.js';
import { ArbiterError } from '../errors.js';
import type { Logger } from '../log.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(mail: Mail): Promise<{ messageId: string }>;
  close(): void;
  describe(): string;
}

/** How Arbiter connects to the SMTP server: the mailer's pool, and `arbiter check-config` with one connection. */
export function smtpTransportOptions(smtp: SmtpConfig) {
  const { host, port, secure, requireTls, user, pass } = smtp;
  return {
    host,
    port,
    secure,
    requireTLS: requireTls,
    auth: user && pass ? { user, pass } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
}

/**
 * SMTP when SMTP_HOST is set (pooled connections); otherwise, in development only, each message is written as an
 * .eml file to DATA_DIR/outbox so that a newcomer can open it.
 */
export function createMailer(config: Pick<Config, 'smtp' | 'emailFrom' | 'dataDir'>, log: Logger): Mailer {
  if (!config.smtp) return createOutboxMailer(config.emailFrom, join(config.dataDir, 'outbox'), log);
  const { host, port, secure, requireTls } = config.smtp;
  const transport = nodemailer.createTransport({ pool: true, maxConnections: 2, ...smtpTransportOptions(config.smtp) });
  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({ from: config.emailFrom, ...mail });
        return { messageId: info.messageId };
      } catch (err) {
        throw smtpError(err, requireTls);
      }
    },
    close: () => transport.close(),
    describe: () => `smtp://${host}:${port}${secure ? ' (TLS)' : requireTls ? ' (STARTTLS required)' : ''}`,
  };
}

function createOutboxMailer(from: string, dir: string, log: Logger): Mailer {
  const transport: Transporter = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail) {
      const info = await transport.sendMail({ from, ...mail });
      mkdirSync(dir, { recursive: true });
      const base = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.to.replace(/[^a-z0-9@._-]/gi, '_')}`);
      const file = `${base}.eml`;
      writeFileSync(file, info.message as Buffer);
      // The .eml is encoded for transport (long lines are wrapped); the .txt is the text part as a person reads it.
      writeFileSync(`${base}.txt`, `To: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}`);
      log.info({ file }, 'email written to the outbox (no SMTP_HOST set)');
      return { messageId: info.messageId };
    },
    close: () => transport.close(),
    describe: () => `outbox ${dir}`,
  };
}

/** The same mailer, counting each message sent or not sent (for /metrics). */
export function countEmails(mailer: Mailer, metrics: { email(result: 'sent' | 'failed'): void }): Mailer {
  return {
    async send(mail) {
      try {
        const sent = await mailer.send(mail);
        metrics.email('sent');
        return sent;
      } catch (err) {
        metrics.email('failed');
        throw err;
      }
    },
    close: () => mailer.close(),
    describe: () => mailer.describe(),
  };
}

/**
 * A recipient refused for good is final; anything else (connection, auth, TLS, 4xx) is worth another try: a server
 * that does not offer STARTTLS today may be fixed tomorrow.
 */
function smtpError(err: unknown, requireTls: boolean): ArbiterError {
  const e = err as { message?: string; responseCode?: number; command?: string; code?: string };
  const permanent = e.command === 'RCPT TO' && typeof e.responseCode === 'number' && e.responseCode >= 500;
  const tls =
    requireTls && (e.command === 'STARTTLS' || e.code === 'ETLS')
      ? '; the SMTP server did not switch to TLS with STARTTLS, and SMTP_REQUIRE_TLS is on, so nothing was sent in clear' +
        ' (use SMTP_SECURE=true for a server that speaks TLS from the start, usually port 465)'
      : '';
  return new ArbiterError('email_failed', `email not sent: ${e.message ?? String(err)}${tls}`, {
    retryable: !permanent,
    cause: err,
  });
}
