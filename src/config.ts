/**
 * The only reader of process.env (and of the optional .env file). Everything Arbiter can be told lives here, is
 * validated at once, and every problem is reported together in plain words.
 */
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ArbiterError } from './errors.js';
import { isLoopback } from './net/loopback.js';
import { loadOidcClients, type OidcClient } from './apps/oidc/clients.js';

export const SNOWFLAKE = /^\d{17,20}$/;

export interface DiscordConfig {
  clientId: string;
  clientSecret: string;
  botToken: string;
  guildId: string;
  apiUrl: string;
  authorizeUrl: string;
  /** Offered to a subscriber whom Arbiter could not add to the server itself. */
  inviteUrl: string | null;
}

export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  /** Refuse to send unless the connection is upgraded with STARTTLS (when not `secure` from the start). */
  requireTls: boolean;
  user: string | undefined;
  pass: string | undefined;
}

export interface GhostConfig {
  url: string;
  adminKey: string;
  /** Where the Discord ID goes: a `discord_id:` line in the member's note, or a custom member field. */
  field: 'note' | 'custom';
}

/** Express's `trust proxy`: all or nothing, a number of hops, or the proxies' addresses, ranges and names. */
export type TrustProxy = boolean | number | string[];

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  appUrl: string;
  secureCookies: boolean;
  dataDir: string;
  webhookSecrets: Buffer[];
  webhookMaxBytes: number;
  discord: DiscordConfig | null;
  ghost: GhostConfig | null;
  smtp: SmtpConfig | null;
  emailFrom: string;
  /** May act in the admin panel. */
  adminDiscordIds: string[];
  /** May read the admin panel, not act. */
  staffDiscordIds: string[];
  /** An admin session ends after this long without a request, and in any case this long after sign-in. */
  adminIdleMinutes: number;
  adminSessionHours: number;
  sessionSecret: string;
  rolesFile: string;
  tiers: Record<string, string[]>;
  linkTtlHours: number;
  trustProxy: TrustProxy;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  minAccountAgeDays: number;
  reconcileIntervalMinutes: number;
  sweepMaxRemovals: number;
  /** Opens /metrics and the details of /health to a request from anywhere that sends it as a bearer token. */
  metricsToken: string | null;
  /** Webhook payloads older than this many days are cleared by the daily prune (their delivery rows stay). */
  retentionDays: number;
  /** The OpenID Connect relying parties from OIDC_CLIENTS_FILE (resolved path); none when it is not set. */
  oidcClientsFile: string | null;
  oidcClients: OidcClient[];
  /** Problems that are fatal in production but were given a development default. */
  warnings: string[];
}

const EXAMPLES: Record<string, string> = {
  PORT: 'PORT=3500',
  HOST: 'HOST=127.0.0.1',
  APP_URL: 'APP_URL=https://arbiter.example.com',
  WEBHOOK_SECRET: 'WEBHOOK_SECRET=whsec_<base64 of 32 random bytes: openssl rand -base64 32>',
  DISCORD_CLIENT_ID: 'DISCORD_CLIENT_ID=1234567890123456789',
  DISCORD_CLIENT_SECRET: 'DISCORD_CLIENT_SECRET=<from the Discord developer portal, OAuth2 page>',
  DISCORD_BOT_TOKEN: 'DISCORD_BOT_TOKEN=<from the Discord developer portal, Bot page>',
  DISCORD_GUILD_ID: 'DISCORD_GUILD_ID=1234567890123456789',
  DISCORD_API_URL: 'DISCORD_API_URL=https://discord.com/api',
  DISCORD_AUTHORIZE_URL: 'DISCORD_AUTHORIZE_URL=https://discord.com/oauth2/authorize',
  DISCORD_INVITE_URL: 'DISCORD_INVITE_URL=https://discord.gg/yourserver',
  CMS_URL: 'CMS_URL=https://blog.example.com',
  CMS_ADMIN_KEY: 'CMS_ADMIN_KEY=<24 hex id>:<64 hex secret> (Ghost admin, Integrations)',
  CMS_DISCORD_FIELD: 'CMS_DISCORD_FIELD=note',
  SMTP_HOST: 'SMTP_HOST=smtp.example.com',
  SMTP_PORT: 'SMTP_PORT=587',
  SMTP_SECURE: 'SMTP_SECURE=false',
  SMTP_REQUIRE_TLS: 'SMTP_REQUIRE_TLS=true',
  EMAIL_FROM: 'EMAIL_FROM="Arbiter <arbiter@example.com>"',
  ADMIN_DISCORD_IDS: 'ADMIN_DISCORD_IDS=123456789012345678,234567890123456789',
  STAFF_DISCORD_IDS: 'STAFF_DISCORD_IDS=345678901234567890',
  ADMIN_IDLE_MINUTES: 'ADMIN_IDLE_MINUTES=30',
  ADMIN_SESSION_HOURS: 'ADMIN_SESSION_HOURS=12',
  SESSION_SECRET: 'SESSION_SECRET=<at least 32 random characters: openssl rand -hex 32>',
  LINK_TTL_HOURS: 'LINK_TTL_HOURS=24',
  LOG_LEVEL: 'LOG_LEVEL=info',
  TRUST_PROXY: 'TRUST_PROXY=loopback',
  METRICS_TOKEN: 'METRICS_TOKEN=<at least 32 random characters: openssl rand -hex 32>',
  MIN_ACCOUNT_AGE_DAYS: 'MIN_ACCOUNT_AGE_DAYS=7',
  RECONCILE_INTERVAL_MINUTES: 'RECONCILE_INTERVAL_MINUTES=60',
  SWEEP_MAX_REMOVALS: 'SWEEP_MAX_REMOVALS=25',
  WEBHOOK_MAX_BYTES: 'WEBHOOK_MAX_BYTES=65536',
  RETENTION_DAYS: 'RETENTION_DAYS=90',
  OIDC_CLIENTS_FILE: 'OIDC_CLIENTS_FILE=/etc/arbiter/oidc-clients.json',
  NODE_ENV: 'NODE_ENV=production',
};

const int = (min: number, max: number) =>
  z.coerce.number({ error: "must be a whole number" }).int("must be a whole number").min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .transform((u) => u.replace(/\/+$/, ''));
const snowflake = z.string().regex(SNOWFLAKE, 'must be a Discord ID (17 to 20 digits)');
const snowflakeList = z
  .string()
  .default('')
  .transform((s) => s.split(',').map((id) => id.trim()).filter(Boolean))
  .superRefine((ids, ctx) => {
    for (const id of ids) if (!SNOWFLAKE.test(id)) ctx.addIssue({ code: 'custom', message: `"${id}" is not a Discord ID (17 to 20 digits)` });
  });
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
/** A name Express knows, an IP address, or a CIDR range (address/prefix length). */
function proxyEntryValid(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128));
}
const trustProxy = z.string().transform((value, ctx): TrustProxy => {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  const wrong = entries.filter((entry) => !proxyEntryValid(entry));
  if (entries.length === 0 || wrong.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: `${wrong.map((w) => `"${w}"`).join(', ') || 'nothing'} is not understood: use loopback, linklocal, uniquelocal, IP addresses or CIDR ranges (comma-separated), true, false, or a hop count (a whole number)`,
    });
    return z.NEVER;
  }
  return entries;
});
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));

const EnvSchema = z.object({
  // Unset means production: development defaults (a published webhook secret) only when asked for by name.
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  PORT: int(0, 65535).default(3500),
  HOST: z.string().min(1).default('127.0.0.1'),
  APP_URL: httpUrl.optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  WEBHOOK_SECRET: z.string().optional(),
  WEBHOOK_MAX_BYTES: int(1024, 10 * 1024 * 1024).default(65536),
  DISCORD_CLIENT_ID: snowflake.optional(),
  DISCORD_CLIENT_SECRET: z.string().min(8, 'looks too short for a client secret').optional(),
  DISCORD_BOT_TOKEN: z.string().min(20, 'looks too short for a bot token').optional(),
  DISCORD_GUILD_ID: snowflake.optional(),
  DISCORD_API_URL: httpUrl.default('https://discord.com/api'),
  DISCORD_AUTHORIZE_URL: httpUrl.default('https://discord.com/oauth2/authorize'),
  DISCORD_INVITE_URL: httpUrl.optional(),
  CMS_URL: httpUrl.optional(),
  CMS_ADMIN_KEY: z
    .string()
    .regex(/^[0-9a-f]{24}:[0-9a-f]{64}$/, 'must be a Ghost Admin API key: <24 hex id>:<64 hex secret>')
    .optional(),
  CMS_DISCORD_FIELD: z.enum(['note', 'custom']).default('note'),
  SMTP_HOST: z.string().min(1).optional(),
  SMTP_PORT: int(1, 65535).default(587),
  SMTP_SECURE: bool.default(false),
  SMTP_REQUIRE_TLS: bool.default(true),
  SMTP_USER: z.string().optional(),
  SMTP_PASS: z.string().optional(),
  EMAIL_FROM: z.string().min(3).optional(),
  ADMIN_DISCORD_IDS: snowflakeList,
  STAFF_DISCORD_IDS: snowflakeList,
  ADMIN_IDLE_MINUTES: int(1, 24 * 60).default(30),
  ADMIN_SESSION_HOURS: int(1, 24 * 7).default(12),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ROLES_FILE: z.string().min(1).default('config/roles.json'),
  LINK_TTL_HOURS: int(1, 24 * 14).default(24),
  TRUST_PROXY: trustProxy.default(['loopback']),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MIN_ACCOUNT_AGE_DAYS: int(0, 3650).default(0),
  RECONCILE_INTERVAL_MINUTES: int(0, 7 * 24 * 60).default(60),
  SWEEP_MAX_REMOVALS: int(0, 100000).default(25),
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  RETENTION_DAYS: int(7, 3650).default(90),
  OIDC_CLIENTS_FILE: z.string().min(1).optional(),
});

const DEV_WEBHOOK_SECRET = 'dev-webhook-secret-change-me';
/**
 * Values that mean "not filled in": the placeholders of .env.example and the development webhook secret. Refused
 * in production. A test reads .env.example so that this list and the file agree.
 */
export const PLACEHOLDERS: Readonly<Record<string, readonly string[]>> = {
  WEBHOOK_SECRET: ['whsec_REPLACE_WITH_openssl_rand_-base64_32', DEV_WEBHOOK_SECRET],
  APP_URL: ['https://arbiter.example.com'],
  SMTP_HOST: ['smtp.example.com'],
  EMAIL_FROM: ['Arbiter <arbiter@example.com>'],
};

function placeholder(variable: string, value: string | undefined): string | undefined {
  if (value === undefined || !PLACEHOLDERS[variable]?.includes(value)) return undefined;
  return value === DEV_WEBHOOK_SECRET ? 'is the development secret, which is published' : 'is the placeholder from .env.example';
}

const TIER_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const RolesSchema = z.strictObject({
  tiers: z
    .record(
      z.string().transform((t) => t.toLowerCase()).pipe(z.string().regex(TIER_NAME, 'tier names are letters, digits, _ . -')),
      z.array(snowflake).min(1, 'each tier needs at least one role ID'),
    )
    .refine((tiers) => Object.keys(tiers).length > 0, 'at least one tier is needed'),
});

export interface LoadOptions {
  /** Where relative paths (.env, DATA_DIR, ROLES_FILE) are resolved. */
  cwd?: string;
  /** Read `<cwd>/.env` when present (true, the default), no file (false), or this file, which must exist. */
  envFile?: boolean | string;
}

/**
 * Reads a webhook secret the way Standard Webhooks does: `whsec_` + base64 is decoded, anything else is raw bytes.
 * The base64 must be exact (Node's decoder silently skips what it cannot read, which would shorten the key);
 * what is wrong is said in words that never contain the secret.
 */
export function readWebhookSecret(secret: string): { key: Buffer } | { problem: string } {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : undefined;
  const key = encoded === undefined ? Buffer.from(secret, 'utf8') : Buffer.from(encoded, 'base64');
  // Exact base64 is the only text that encodes back to itself.
  if (encoded !== undefined && key.toString('base64') !== encoded) {
    return { problem: 'after "whsec_" must come standard base64: A-Z a-z 0-9 + / only, padded with = to a multiple of 4 characters' };
  }
  if (key.length < 16) return { problem: 'must be at least 16 bytes (after base64 decoding for whsec_ secrets)' };
  return { key };
}

export function webhookKey(secret: string): Buffer {
  const read = readWebhookSecret(secret);
  if ('problem' in read) throw new ArbiterError('config_invalid', `WEBHOOK_SECRET: ${read.problem}`);
  return read.key;
}

function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const merged: Record<string, string> = {};
  const named = typeof options.envFile === 'string' ? resolve(cwd, options.envFile) : undefined;
  if (named && !existsSync(named)) throw configError([`the environment file ${named} does not exist`]);
  const fromFile = options.envFile === false ? {} : readEnvFile(named ?? resolve(cwd, '.env'));
  for (const [key, value] of Object.entries({ ...fromFile, ...env })) {
    // An empty value means "not set", as in most .env conventions.
    if (value !== undefined && value.trim() !== '') merged[key] = value.trim();
  }

  const problems: string[] = [];
  const problem = (variable: string, message: string, withExample = true) =>
    problems.push(`${variable}: ${message}${withExample && EXAMPLES[variable] ? ` (example: ${EXAMPLES[variable]})` : ''}`);

  // Each variable is checked on its own so that one run lists every problem.
  const values: Record<string, unknown> = {};
  const invalid = new Set<string>();
  for (const [variable, schema] of Object.entries(EnvSchema.shape)) {
    const result = (schema as z.ZodType).safeParse(merged[variable]);
    if (result.success) {
      values[variable] = result.data;
    } else {
      invalid.add(variable);
      problem(variable, [...new Set(result.error.issues.map((i) => i.message))].join('; '));
    }
  }
  const e = values as z.infer<typeof EnvSchema>;
  // An invalid NODE_ENV is reported above; meanwhile everything production needs is checked too.
  const production = e.NODE_ENV !== 'development' && e.NODE_ENV !== 'test';
  const warnings: string[] = [];
  const missing = (variable: string, why: string, fallback?: string) => {
    if (invalid.has(variable)) return;
    if (production) problem(variable, `is required in production: ${why}`);
    else warnings.push(`${variable} is not set: ${why}${fallback ? `; using ${fallback}` : ''}. This is not safe for production.`);
  };

  if (production) {
    // Webhook secrets are checked one by one below. For the rest, the example would be the same placeholder.
    for (const variable of Object.keys(PLACEHOLDERS).filter((v) => v !== 'WEBHOOK_SECRET')) {
      const why = placeholder(variable, merged[variable]);
      if (why) problem(variable, `${why}: set your own value`, false);
    }
  }

  const appUrl = e.APP_URL ?? `http://localhost:${e.PORT ?? 3500}`;
  if (!e.APP_URL) missing('APP_URL', 'the public address used in emails and OAuth redirects', appUrl);

  let webhookSecrets: Buffer[] = [];
  if (e.WEBHOOK_SECRET) {
    const secrets = e.WEBHOOK_SECRET.split(/\s+/).filter(Boolean);
    secrets.forEach((secret, i) => {
      const which = secrets.length > 1 ? `secret ${i + 1} of ${secrets.length} ` : '';
      const refused = production ? placeholder('WEBHOOK_SECRET', secret) : undefined;
      const read = readWebhookSecret(secret);
      if (refused) problem('WEBHOOK_SECRET', `${which}${refused}: generate your own`);
      else if ('problem' in read) problem('WEBHOOK_SECRET', `${which}${read.problem}`);
      else webhookSecrets.push(read.key);
    });
  } else {
    missing('WEBHOOK_SECRET', 'webhooks cannot be verified without it', `the development secret "${DEV_WEBHOOK_SECRET}"`);
    webhookSecrets = [webhookKey(DEV_WEBHOOK_SECRET)];
  }

  let sessionSecret = e.SESSION_SECRET;
  if (!sessionSecret) {
    missing('SESSION_SECRET', 'sessions must be signed', 'a random secret for this run (sessions end at restart)');
    sessionSecret = randomBytes(32).toString('hex');
  }

  const discordVars = ['DISCORD_CLIENT_ID', 'DISCORD_CLIENT_SECRET', 'DISCORD_BOT_TOKEN', 'DISCORD_GUILD_ID'] as const;
  const absentDiscord = discordVars.filter((v) => !e[v] && !invalid.has(v));
  let discord: DiscordConfig | null = null;
  if (absentDiscord.length === 0 && !discordVars.some((v) => invalid.has(v))) {
    discord = {
      clientId: e.DISCORD_CLIENT_ID!,
      clientSecret: e.DISCORD_CLIENT_SECRET!,
      botToken: e.DISCORD_BOT_TOKEN!,
      guildId: e.DISCORD_GUILD_ID!,
      apiUrl: e.DISCORD_API_URL,
      authorizeUrl: e.DISCORD_AUTHORIZE_URL,
      inviteUrl: e.DISCORD_INVITE_URL ?? null,
    };
  } else if (production || absentDiscord.length < discordVars.length) {
    // Some DISCORD_* settings were given: the rest are surely meant to be there too.
    for (const v of absentDiscord) problem(v, 'is required: Discord sign-in and roles need all four DISCORD_* settings');
  } else {
    warnings.push('DISCORD_* settings are not set: sign-in with Discord and role changes are off; their jobs wait.');
  }

  let ghost: GhostConfig | null = null;
  if (invalid.has('CMS_URL') || invalid.has('CMS_ADMIN_KEY')) {
    // already reported
  } else if (e.CMS_URL && e.CMS_ADMIN_KEY) ghost = { url: e.CMS_URL, adminKey: e.CMS_ADMIN_KEY, field: e.CMS_DISCORD_FIELD };
  else if (e.CMS_URL) problem('CMS_ADMIN_KEY', 'is required when CMS_URL is set');
  else if (e.CMS_ADMIN_KEY) problem('CMS_URL', 'is required when CMS_ADMIN_KEY is set');

  let smtp: SmtpConfig | null = null;
  if (invalid.has('SMTP_HOST')) {
    // already reported
  } else if (e.SMTP_HOST) {
    if (Boolean(e.SMTP_USER) !== Boolean(e.SMTP_PASS)) problem(e.SMTP_USER ? 'SMTP_PASS' : 'SMTP_USER', 'SMTP_USER and SMTP_PASS go together');
    // Without TLS, the password and the link tokens cross the network in clear for anyone who strips STARTTLS;
    // a relay on this machine is not on the network.
    const plain = !e.SMTP_SECURE && !isLoopback(e.SMTP_HOST);
    if (plain && e.SMTP_REQUIRE_TLS === false) {
      warnings.push('SMTP_REQUIRE_TLS=false: mail (with its links) and the SMTP password may cross the network unencrypted.');
    }
    smtp = {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      requireTls: plain && e.SMTP_REQUIRE_TLS,
      user: e.SMTP_USER,
      pass: e.SMTP_PASS,
    };
  } else {
    missing('SMTP_HOST', 'email cannot be sent', 'files in DATA_DIR/outbox');
  }

  let emailFrom = e.EMAIL_FROM;
  if (!emailFrom) {
    missing('EMAIL_FROM', 'the sender of link emails', '"Arbiter <arbiter@localhost>"');
    emailFrom = 'Arbiter <arbiter@localhost>';
  }

  const both = (e.STAFF_DISCORD_IDS ?? []).filter((id) => e.ADMIN_DISCORD_IDS?.includes(id));
  if (both.length > 0) problem('STAFF_DISCORD_IDS', `${both.join(', ')} ${both.length === 1 ? 'is' : 'are'} also in ADMIN_DISCORD_IDS: name each person in one list only`, false);
  if (!invalid.has('ADMIN_IDLE_MINUTES') && !invalid.has('ADMIN_SESSION_HOURS') && e.ADMIN_IDLE_MINUTES > e.ADMIN_SESSION_HOURS * 60) {
    problem('ADMIN_IDLE_MINUTES', `must not be longer than ADMIN_SESSION_HOURS (${e.ADMIN_SESSION_HOURS} h)`);
  }

  const rolesFile = resolve(cwd, e.ROLES_FILE ?? 'config/roles.json');
  const tiers = loadTiers(rolesFile, problems);
  const oidcClientsFile = e.OIDC_CLIENTS_FILE ? resolve(cwd, e.OIDC_CLIENTS_FILE) : null;
  const oidcClients = oidcClientsFile ? loadOidcClients(oidcClientsFile, problems) : [];
  if (problems.length > 0) throw configError(problems);

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    appUrl,
    secureCookies: appUrl.startsWith('https://'),
    dataDir: resolve(cwd, e.DATA_DIR),
    webhookSecrets,
    webhookMaxBytes: e.WEBHOOK_MAX_BYTES,
    discord,
    ghost,
    smtp,
    emailFrom,
    adminDiscordIds: e.ADMIN_DISCORD_IDS,
    staffDiscordIds: e.STAFF_DISCORD_IDS,
    adminIdleMinutes: e.ADMIN_IDLE_MINUTES,
    adminSessionHours: e.ADMIN_SESSION_HOURS,
    sessionSecret,
    rolesFile,
    tiers,
    linkTtlHours: e.LINK_TTL_HOURS,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    minAccountAgeDays: e.MIN_ACCOUNT_AGE_DAYS,
    reconcileIntervalMinutes: e.RECONCILE_INTERVAL_MINUTES,
    sweepMaxRemovals: e.SWEEP_MAX_REMOVALS,
    metricsToken: e.METRICS_TOKEN ?? null,
    retentionDays: e.RETENTION_DAYS,
    oidcClientsFile,
    oidcClients,
    warnings,
  };
}

function loadTiers(path: string, problems: string[]): Record<string, string[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON (${(err as Error).message})`;
    problems.push(`ROLES_FILE (${path}): ${why} (example: {"tiers": {"awakened": ["123456789012345678"]}})`);
    return {};
  }
  const parsed = RolesSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`ROLES_FILE (${path}) at ${issue.path.join('.') || 'top level'}: ${issue.message}`);
    }
    return {};
  }
  return parsed.data.tiers;
}

function configError(problems: string[]): ArbiterError {
  return new ArbiterError(
    'config_invalid',
    `Arbiter cannot start: ${problems.length} configuration problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    { details: problems },
  );
}

/** Every role ID named in roles.json: the only roles Arbiter ever adds or removes. */
export function managedRoles(config: Pick<Config, 'tiers'>): Set<string> {
  return new Set(Object.values(config.tiers).flat());
}
