/**
 * `npm run demo`: Arbiter and everything it talks to, on 127.0.0.1, with nothing to configure. The Discord, Ghost and
 * SMTP stand-ins of the tests play the outside world; an inbox shows the mail; the demo's own page shows the Discord
 * server and sends billing events. Ctrl-C (or SIGTERM) stops everything and removes the demo's data.
 *
 * DEMO_PORT_BASE (default 3500) is Arbiter's port; the others follow it; 0 takes any free ports.
 * DEMO_KEEP=1 keeps the data directory. LOG_LEVEL (default warn) is Arbiter's.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pretty from 'pino-pretty';
import { loadConfig } from '../src/config.js';
import { isArbiterError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { startFakeDiscord } from '../stand-ins/discord.js';
import { startFakeGhost } from '../stand-ins/ghost.js';
import { startInbox } from '../stand-ins/inbox.js';
import { startSmtp } from '../stand-ins/smtp.js';
import { ADMIN, CLIENT, GHOST_MEMBERS, GUILD, MEMBERS, ROLES, SUBSCRIBER, SUBSCRIPTION, TIERS, USERS } from './cast.js';
import { startDemoPages } from './pages.js';

/** What listens where: Arbiter on the base port, the rest on the ports after it, in this order. */
const SERVERS = ['Arbiter', 'demo page', 'inbox', 'Discord stand-in', 'Ghost stand-in', 'SMTP stand-in'] as const;
const DEFAULT_PORT_BASE = 3500;

/** A problem the newcomer can fix, said in words; no stack trace. */
class DemoProblem extends Error {}

interface Settings {
  /** 0: any free ports. */
  portBase: number;
  keep: boolean;
  logLevel: string;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const base = env.DEMO_PORT_BASE?.trim() || String(DEFAULT_PORT_BASE);
  const last = 65535 - (SERVERS.length - 1);
  if (!/^\d{1,5}$/.test(base) || (Number(base) !== 0 && (Number(base) < 1024 || Number(base) > last))) {
    throw new DemoProblem(`DEMO_PORT_BASE must be 0 (any free ports) or a port from 1024 to ${last}: the demo uses it and the ${SERVERS.length - 1} after it.`);
  }
  const keep = env.DEMO_KEEP?.trim() ?? '';
  if (!['', '0', '1'].includes(keep)) throw new DemoProblem('DEMO_KEEP must be 1 (keep the data directory at exit) or 0.');
  return { portBase: Number(base), keep: keep === '1', logLevel: env.LOG_LEVEL?.trim() || 'warn' };
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The fixed ports, all free; or zeros (any free port) for DEMO_PORT_BASE=0. */
async function choosePorts(base: number): Promise<number[]> {
  if (base === 0) return SERVERS.map(() => 0);
  const ports = SERVERS.map((_, i) => base + i);
  const taken = [];
  for (const [i, port] of ports.entries()) if (!(await listenable(port))) taken.push(`${port} (${SERVERS[i]})`);
  if (taken.length > 0) {
    throw new DemoProblem(`The demo uses ports ${base}-${base + SERVERS.length - 1} on 127.0.0.1, and ${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} in use.
Stop what uses ${taken.length === 1 ? 'it' : 'them'}, or choose other ports: DEMO_PORT_BASE=${base === 4500 ? 5500 : 4500} npm run demo (DEMO_PORT_BASE=0: any free ports).`);
  }
  return ports;
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const [arbiterPort = 0, pagesPort = 0, inboxPort = 0, discordPort = 0, ghostPort = 0, smtpPort = 0] = await choosePorts(settings.portBase);
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-demo-'));
  const stops: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (code: number, message?: string) =>
    (stopping ??= (async () => {
      const force = setTimeout(() => {
        process.stderr.write(`Stopping took longer than 25 s; exiting. The demo's data is in ${dir}\n`);
        process.exit(1);
      }, 25_000);
      force.unref();
      for (const close of stops.reverse()) await close().catch((err: unknown) => process.stderr.write(`While stopping: ${String(err)}\n`));
      if (message) process.stderr.write(`${message}\n`);
      if (settings.keep) process.stdout.write(`Kept the demo's data in ${dir} (DATA_DIR=${join(dir, 'data')}).\n`);
      else {
        rmSync(dir, { recursive: true, force: true });
        process.stdout.write(`Stopped; removed the demo's data (${dir}).\n`);
      }
      process.exit(code);
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        process.stderr.write(`Stopped without waiting; the demo's data may be left in ${dir}\n`);
        process.exit(1);
      }
      void stop(0);
    });
  }

  try {
    const discord = await startFakeDiscord({ ...CLIENT, guildId: GUILD.id, guildName: GUILD.name, roles: ROLES, accountChooser: true, port: discordPort });
    stops.push(() => discord.close());
    for (const user of USERS) discord.addUser(user);
    for (const { user, roles } of MEMBERS) discord.memberJoins(user.id, roles);

    const ghost = await startFakeGhost({ port: ghostPort });
    stops.push(() => ghost.close());
    for (const member of GHOST_MEMBERS) ghost.addMember(member);

    const smtp = await startSmtp(smtpPort);
    stops.push(() => smtp.close());
    const inbox = await startInbox(smtp.messages, inboxPort);
    stops.push(() => inbox.close());

    const port = arbiterPort || (await freePort());
    const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
    writeFileSync(join(dir, 'roles.json'), `${JSON.stringify({ tiers: TIERS }, null, 2)}\n`);
    const config = loadConfig({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      APP_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: join(dir, 'data'),
      ROLES_FILE: join(dir, 'roles.json'),
      WEBHOOK_SECRET: webhookSecret,
      SESSION_SECRET: randomBytes(32).toString('hex'),
      DISCORD_CLIENT_ID: CLIENT.clientId,
      DISCORD_CLIENT_SECRET: CLIENT.clientSecret,
      DISCORD_BOT_TOKEN: CLIENT.botToken,
      DISCORD_GUILD_ID: GUILD.id,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_AUTHORIZE_URL: discord.authorizeUrl,
      CMS_URL: ghost.url,
      CMS_ADMIN_KEY: ghost.adminKey,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      EMAIL_FROM: 'Arbiter demo <arbiter@demo.invalid>',
      ADMIN_DISCORD_IDS: ADMIN.id,
      LOG_LEVEL: settings.logLevel,
    }, { cwd: dir, envFile: false });
    const log = createLogger(config.logLevel, pretty({ sync: true, destination: 1, colorize: Boolean(process.stdout.isTTY), ignore: 'pid,hostname,service', singleLine: true }));
    const arbiter = await startServer(config, { log });
    stops.push(() => arbiter.stop());

    const pages = await startDemoPages({
      port: pagesPort, discord, ghost, arbiterUrl: arbiter.url, webhookSecret,
      settle: () => Promise.race([arbiter.services.worker.idle(), new Promise<void>((resolve) => setTimeout(resolve, 5_000))]),
    });
    stops.push(() => pages.close());

    await waitFor(() => arbiter.services.discord?.bot.health().status === 'ready', 15_000, "Arbiter's bot did not connect to the Discord stand-in");
    const created = await pages.send('subscription.created');
    if (created.status !== 200) throw new DemoProblem(`Arbiter refused the demo's subscription.created: ${created.status} ${created.answer}`);
    await smtp.mailTo(SUBSCRIPTION.customer_email, 15_000);

    const name = (user: typeof SUBSCRIBER) => user.global_name ?? user.username;
    process.stdout.write(`
Arbiter demo: everything runs on this machine, on 127.0.0.1.

  Inbox            ${inbox.url}/   the link email to ${SUBSCRIPTION.customer_email} is waiting: open it, click Connect Discord
  Discord server   ${pages.url}   members and their roles, and buttons that send billing events
  Admin panel      ${arbiter.url}/admin

  On the Discord consent page, pick ${name(SUBSCRIBER)} to link the subscription, ${name(ADMIN)} (the admin) for the admin panel.
  Stand-ins: Discord ${discord.url}  Ghost ${ghost.url}  SMTP 127.0.0.1:${smtp.port}
  Ctrl-C stops everything.
`);
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    const message = inUse ? `a port became busy while the demo started (${(err as Error).message}); start it again, or set DEMO_PORT_BASE=0 for any free ports.`
      : err instanceof DemoProblem || isArbiterError(err) ? err.message
      : err instanceof Error ? err.stack ?? err.message : String(err);
    await stop(1, `The demo could not start: ${message}`);
  }
}

async function waitFor(ready: () => boolean, timeoutMs: number, failure: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new DemoProblem(failure);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof DemoProblem ? err.message : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
