/**
 * Everything Arbiter talks to, started for one test file: the Discord stand-in (REST, OAuth, gateway), the Ghost
 * stand-in, a real SMTP server, and the service itself pointed at them.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from '../../stand-ins/discord.js';
import { startFakeGhost, type FakeGhost } from '../../stand-ins/ghost.js';
import type { RunningServer } from '../../src/server.js';
import type { Logger } from '../../src/log.js';
import type { ServiceOverrides } from '../../src/services.js';
import { tempDir, testConfig, testEnv, WEBHOOK_SECRET, type TempDir } from './config.js';
import { startTestServer, until } from './server.js';
import { linkIn, startSmtp, type TestSmtp } from '../../stand-ins/smtp.js';
import { eventBody, postWebhook, standardHeaders, type EventFields } from './webhooks.js';

export const GUILD_ID = '200000000000000001';
export const ROLE = { awakened: '300000000000000001', ascended: '300000000000000002', booster: '300000000000000009' };
export const WORLD_TIERS = { awakened: [ROLE.awakened], ascended: [ROLE.awakened, ROLE.ascended] };
const CLIENT = { clientId: '400000000000000001', clientSecret: 'fake-client-secret', botToken: 'fake-bot-token-0123456789abcdef' };

export interface World {
  dir: TempDir;
  discord: FakeDiscord;
  ghost: FakeGhost;
  smtp: TestSmtp;
  app: RunningServer;
  /** The settings the running Arbiter was started with, as an environment: the CLI run as a child gets these. */
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Posts a signed billing event and expects it accepted. */
  event(fields: EventFields): Promise<void>;
  /** The link in the nth email (from 1) to this address, once it has arrived. */
  linkFor(email: string, nth?: number): Promise<string>;
  /** Waits until the queue has nothing due. */
  settle(): Promise<void>;
  /** Stops Arbiter and starts it again on the same port and data, with these settings changed. */
  restart(env?: Record<string, string>): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface WorldOptions {
  env?: Record<string, string>;
  discord?: Partial<FakeDiscordOptions>;
  ghostCustomFields?: string[];
  log?: Logger;
  overrides?: ServiceOverrides;
  /** roles.json's tiers; default WORLD_TIERS. */
  tiers?: Record<string, string[]>;
  /** Written as <dir>/oidc-clients.json and named by OIDC_CLIENTS_FILE. */
  oidcClients?: unknown;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const dir = tempDir();
  const discord = await startFakeDiscord({
    ...CLIENT,
    guildId: GUILD_ID,
    guildName: 'Test Server',
    roles: [
      { id: ROLE.booster, name: 'Server Booster', position: 1 },
      { id: ROLE.awakened, name: 'Awakened', position: 2 },
      { id: ROLE.ascended, name: 'Ascended', position: 3 },
    ],
    botRolePosition: 10,
    ...options.discord,
  });
  const ghost = await startFakeGhost(options.ghostCustomFields ? { customFields: options.ghostCustomFields } : {});
  const smtp = await startSmtp();
  const port = await freePort();
  const oidcEnv: Record<string, string> = {};
  if (options.oidcClients !== undefined) {
    oidcEnv.OIDC_CLIENTS_FILE = join(dir.path, 'oidc-clients.json');
    writeFileSync(oidcEnv.OIDC_CLIENTS_FILE, JSON.stringify(options.oidcClients));
  }
  const settings = (changed: Record<string, string> = {}) => ({
    PORT: String(port),
    APP_URL: `http://127.0.0.1:${port}`,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    DISCORD_CLIENT_ID: CLIENT.clientId,
    DISCORD_CLIENT_SECRET: CLIENT.clientSecret,
    DISCORD_BOT_TOKEN: CLIENT.botToken,
    DISCORD_GUILD_ID: GUILD_ID,
    DISCORD_API_URL: discord.apiUrl,
    DISCORD_AUTHORIZE_URL: discord.authorizeUrl,
    CMS_URL: ghost.url,
    CMS_ADMIN_KEY: ghost.adminKey,
    ...oidcEnv,
    ...options.env,
    ...changed,
  });
  const makeConfig = (changed?: Record<string, string>) => testConfig(dir.path, settings(changed), options.tiers ?? WORLD_TIERS);
  const start = (changed?: Record<string, string>) =>
    startTestServer(makeConfig(changed), { ...options.overrides, ...(options.log ? { log: options.log } : {}) });
  const app = await start();
  const world: World = {
    dir,
    discord,
    ghost,
    smtp,
    app,
    env: testEnv(dir.path, settings()),
    async stop() {
      await world.app.stop();
      await Promise.all([discord.close(), ghost.close(), smtp.close()]);
      dir.remove();
    },
    async event(fields) {
      const body = eventBody(fields);
      const res = await postWebhook(world.app.url, body, standardHeaders(WEBHOOK_SECRET, body));
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.text}`);
    },
    async linkFor(email, nth = 1) {
      const mine = await until(() => {
        const all = smtp.messages.filter((m) => m.to === email);
        return all.length >= nth && all;
      }, 10_000, `mail ${nth} to ${email}`);
      return linkIn(mine[nth - 1]!.text);
    },
    async settle() {
      await world.app.services.worker.idle();
    },
    async restart(env) {
      await world.app.stop();
      world.app = await start(env);
      world.env = testEnv(dir.path, settings(env));
      await botReady();
    },
  };
  // The bot is ready once the gateway handshake is done; most tests expect member events to arrive.
  const botReady = () => until(() => (world.app.services.discord!.bot.health().status === 'ready' ? true : undefined), 10_000, 'bot ready');
  await botReady();
  return world;
}

/** A browser-like HTTP client with a cookie jar, following nothing by itself. */
export class Browser {
  private cookies = new Map<string, string>();

  cookie(host: string, name: string): string | undefined {
    return this.cookies.get(`${host} ${name}`);
  }

  async get(url: string): Promise<Response> {
    return this.request(url, { method: 'GET' });
  }

  async post(url: string, form: Record<string, string>): Promise<Response> {
    return this.request(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  async request(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('accept', 'text/html');
    const host = new URL(url).host;
    const jar = [...this.cookies].filter(([k]) => k.startsWith(`${host} `)).map(([k, v]) => `${k.split(' ')[1]}=${v}`);
    if (jar.length) headers.set('cookie', jar.join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...value] = pair!.split('=');
      this.cookies.set(`${host} ${name!.trim()}`, value.join('='));
    }
    // Read to the end, as a browser does before it moves on: express-session stores a changed session while the
    // body's last byte waits, so a next request sent at the headers could still see the session before.
    const body = [101, 204, 205, 304].includes(res.status) ? null : await res.arrayBuffer();
    const whole = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(whole, 'url', { value: res.url });
    return whole;
  }

  /** Follows redirects, as a browser would, and returns every hop. */
  async follow(url: string, maxHops = 10): Promise<{ hops: string[]; res: Response }> {
    const hops = [url];
    let res = await this.get(url);
    while (res.status >= 300 && res.status < 400 && hops.length <= maxHops) {
      const next = new URL(res.headers.get('location')!, hops[hops.length - 1]).toString();
      hops.push(next);
      res = await this.get(next);
    }
    return { hops, res };
  }
}
