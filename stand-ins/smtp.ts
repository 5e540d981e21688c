/** A real SMTP server on 127.0.0.1 that keeps what it receives, parsed. */
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface Received {
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  raw: Buffer;
  receivedAt: Date;
}

export interface TestSmtp {
  port: number;
  messages: Received[];
  /** Connection errors, e.g. a client killed in the middle of a message (smtp-server emits them on the server). */
  errors: Error[];
  /** Users who signed in with the right password (only when started with `auth`). */
  authenticated: string[];
  /** While closed, a message's data is read but not acknowledged: it counts as delivered only once acknowledged. */
  hold(): void;
  release(): void;
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  /** The first message to this address, once it is there. */
  mailTo(address: string, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

/** With `auth`, the server offers AUTH and accepts only this user and password (clients without credentials still may send). */
export async function startSmtp(port = 0, options: { auth?: { user: string; pass: string } } = {}): Promise<TestSmtp> {
  const messages: Received[] = [];
  const authenticated: string[] = [];
  let held: (() => void)[] | null = null;
  let waiters: (() => void)[] = [];
  const notify = () => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  const closedSessions = new Set<string>();
  const server = new SMTPServer({
    onClose(session) {
      closedSessions.add(session.id);
    },
    authOptional: true,
    onAuth(auth, _session, callback) {
      const { user, pass } = options.auth ?? {};
      if (user === undefined || auth.username !== user || auth.password !== pass) return callback(new Error('Invalid username or password'));
      authenticated.push(user);
      callback(null, { user });
    },
    // Clients still connected at close() are cut off after this, not after smtp-server's default 30 s.
    closeTimeout: 500,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const accept = async () => {
          // The client went away before we acknowledged: by SMTP's rules it was not delivered.
          if (closedSessions.has(session.id)) return;
          const parsed: ParsedMail = await simpleParser(raw);
          messages.push({
            to: session.envelope.rcptTo.map((r) => r.address).join(','),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            messageId: parsed.messageId ?? '',
            raw,
            receivedAt: new Date(),
          });
          callback();
          notify();
        };
        if (held) held.push(() => void accept());
        else void accept();
      });
    },
  });
  const errors: Error[] = [];
  // Without a listener, a reset during a mail transaction would be an uncaught exception in the test process.
  server.on('error', (err: Error) => errors.push(err));
  await new Promise<void>((resolve, reject) => {
    // A port already in use is reported on the server's 'error' event.
    const failed = (err: Error) => reject(err);
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.server.address() as AddressInfo;
  return {
    port: address.port,
    messages,
    errors,
    authenticated,
    hold: () => {
      held ??= [];
    },
    release: () => {
      const pending = held ?? [];
      held = null;
      pending.forEach((f) => f());
    },
    waitFor(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`expected ${count} messages, got ${messages.length}`)), timeoutMs);
        const check = () => {
          if (messages.length >= count) {
            clearTimeout(timer);
            resolve(messages);
          } else waiters.push(check);
        };
        check();
      });
    },
    mailTo(address, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message to ${address}`)), timeoutMs);
        const check = () => {
          const found = messages.find((m) => m.to === address);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function linkIn(text: string): string {
  const match = /https?:\/\/\S+\/link\/[A-Za-z0-9_-]{43}/.exec(text);
  if (!match) throw new Error(`no link in: ${text}`);
  return match[0];
}
