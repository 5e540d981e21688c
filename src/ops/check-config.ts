/**
 * `arbiter check-config`: the settings are valid (loading them proved that), and each outside service they name
 * answers and accepts them. Reads only: it opens no database and changes nothing anywhere.
 */
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { AuditLog } from '../audit/log.js';
import { systemClock } from '../clock.js';
import { managedRoles, type Config, type DiscordConfig, type GhostConfig, type SmtpConfig } from '../config.js';
import { createDiscordApi } from '../discord/api.js';
import { checkClientCredentials } from '../discord/oauth.js';
import type { PermissionReport } from '../discord/permissions.js';
import { smtpTransportOptions } from '../email/mailer.js';
import { isArbiterError } from '../errors.js';
import { createGhostClient } from '../ghost/client.js';
import { silentLogger } from '../log.js';
import { callbackUrl } from '../apps/oidc/constants.js';

/** off: not configured, which these settings allow (development). skipped: could not be checked after an earlier problem. */
export type CheckState = 'ok' | 'problem' | 'off' | 'skipped';

export interface Check {
  name: string;
  state: CheckState;
  /** One sentence or two, naming the setting to fix. Never a secret. */
  text: string;
}

export const CHECK_TIMEOUT_MS = 10_000;

class TimedOut extends Error {}

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error's message, with the system's reason (ECONNREFUSED, ENOTFOUND...) that fetch keeps in its causes. */
function messageOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  let cause: unknown = err;
  let code: string | undefined;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++, cause = cause.cause) {
    const own = (cause as Error & { code?: unknown }).code;
    if (typeof own === 'string' && /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/.test(own)) code = own;
  }
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** A service that did not answer (or not in time), as a sentence. */
function unanswered(err: unknown): string {
  const message = messageOf(err);
  return `${message.charAt(0).toUpperCase()}${message.slice(1)}${/[.!?]$/.test(message) ? '' : '.'}`;
}

export async function checkConfig(config: Config, timeoutMs = CHECK_TIMEOUT_MS): Promise<Check[]> {
  const [smtp, discord, ghost] = await Promise.all([
    checkSmtp(config, timeoutMs),
    config.discord ? checkDiscord(config.discord, managedRoles(config), timeoutMs) : Promise.resolve([discordOff()]),
    config.ghost ? checkGhost(config.ghost, timeoutMs) : Promise.resolve(ghostOff()),
  ]);
  return [settingsCheck(config), smtp, ...discord, ghost, oidcCheck(config)];
}

function oidcCheck(config: Config): Check {
  const name = 'OpenID Connect';
  if (!config.oidcClientsFile) {
    return { name, state: 'off', text: 'OIDC_CLIENTS_FILE is not set: /.well-known/openid-configuration answers, but no app can sign people in.' };
  }
  const n = config.oidcClients.length;
  const ids = config.oidcClients.map((c) => c.clientId).join(', ');
  return {
    name,
    state: 'ok',
    text: `${config.oidcClientsFile} lets ${n} app${n === 1 ? '' : 's'}${n > 0 ? ` (${ids})` : ''} sign people in; the Discord application must allow the redirect ${callbackUrl(config)}.`,
  };
}

function settingsCheck(config: Config): Check {
  const tiers = Object.keys(config.tiers).length;
  const roles = managedRoles(config).size;
  const warnings = config.warnings.length;
  return {
    name: 'Settings',
    state: 'ok',
    text:
      `valid for ${config.env}; ${config.rolesFile} names ${tiers} tier${tiers === 1 ? '' : 's'} and ${roles} role${roles === 1 ? '' : 's'}` +
      (warnings > 0 ? `; ${warnings} warning${warnings === 1 ? '' : 's'}: ${config.warnings.join(' ')}` : ''),
  };
}

async function checkSmtp(config: Config, timeoutMs: number): Promise<Check> {
  const name = 'SMTP';
  if (!config.smtp) {
    return { name, state: 'off', text: `SMTP_HOST is not set: mail is not sent but written as files to ${join(config.dataDir, 'outbox')} (development only).` };
  }
  const smtp = config.smtp;
  const where = `${smtp.host}:${smtp.port}`;
  const transport = nodemailer.createTransport(smtpTransportOptions(smtp));
  try {
    await within(timeoutMs, transport.verify());
    const how = smtp.secure ? ' over TLS' : smtp.requireTls ? ' after STARTTLS' : '';
    return { name, state: 'ok', text: `the mail server at ${where} answered${how}${smtp.user ? ' and accepted SMTP_USER and SMTP_PASS' : ''}.` };
  } catch (err) {
    return { name, state: 'problem', text: smtpProblem(err, smtp, where, timeoutMs) };
  } finally {
    transport.close();
  }
}

/** nodemailer's errors, in words that name the setting to change. */
function smtpProblem(err: unknown, smtp: SmtpConfig, where: string, timeoutMs: number): string {
  const e = err as { code?: string; command?: string; responseCode?: number; message?: string };
  const message = e.message ?? String(err);
  if (err instanceof TimedOut || e.code === 'ETIMEDOUT' || /timeout|greeting never received/i.test(message)) {
    return `no answer from ${where} within ${Math.round(timeoutMs / 1000)} s: check SMTP_HOST, SMTP_PORT and any firewall between` +
      (smtp.secure ? '; SMTP_SECURE=true is for servers that speak TLS from the start (usually port 465).' : '; a server that speaks TLS from the start (usually port 465) needs SMTP_SECURE=true.');
  }
  if (/ECONNREFUSED/.test(message)) return `nothing answered at ${where} (connection refused): check SMTP_HOST and SMTP_PORT.`;
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return `the name in SMTP_HOST ("${smtp.host}") could not be resolved: check SMTP_HOST.`;
  if (e.code === 'EAUTH') return `SMTP_USER and SMTP_PASS were rejected by the mail server at ${where}${e.responseCode ? ` (${e.responseCode})` : ''}.`;
  if (e.code === 'ETLS' || e.command === 'STARTTLS' || /STARTTLS/i.test(message)) {
    return `the mail server at ${where} did not switch to TLS with STARTTLS, and SMTP_REQUIRE_TLS is on: use SMTP_SECURE=true for a server that speaks TLS from the start (usually port 465).`;
  }
  if (smtp.secure && /wrong version number|SSL|TLS/i.test(message)) {
    return `SMTP_SECURE=true, but the mail server at ${where} does not speak TLS from the start: use SMTP_SECURE=false on ports 587 and 25 (STARTTLS).`;
  }
  return `the mail server at ${where} could not be used (${message}): check SMTP_HOST, SMTP_PORT and SMTP_SECURE.`;
}

function discordOff(): Check {
  return { name: 'Discord', state: 'off', text: 'the DISCORD_* settings are not set: sign-in with Discord and role changes are off (development only).' };
}

/** The check reads only: a rejected token is reported here, not recorded in the audit log. */
const unrecorded: AuditLog = { record: () => 0, list: () => [] };

async function checkDiscord(discord: DiscordConfig, managed: ReadonlySet<string>, timeoutMs: number): Promise<Check[]> {
  const api = createDiscordApi(discord, { log: silentLogger(), audit: unrecorded, clock: systemClock, maxInlineWaitMs: timeoutMs });
  const [permissions, oauth] = await Promise.all([
    within(timeoutMs, api.checkPermissions(managed)).then(
      (report) => ({ report }),
      (err: unknown) => ({ err }),
    ),
    checkOAuth(discord, timeoutMs),
  ]);
  const token = { name: 'Discord bot token' };
  const server = { name: 'Discord server' };
  const roles = { name: 'Discord roles' };
  if ('err' in permissions) {
    const err = permissions.err;
    const rejected = isArbiterError(err) && err.code === 'discord_unauthorized';
    const limited = isArbiterError(err) && err.code === 'discord_rate_limited';
    const text = rejected
      ? 'DISCORD_BOT_TOKEN was rejected by Discord (401): copy the token again from the Developer Portal > your application > Bot (Reset Token).'
      : `${unanswered(err)} ${limited ? 'Try again then.' : `Check DISCORD_API_URL (${discord.apiUrl}) and the network.`}`;
    const skipped = { state: 'skipped' as const, text: `not checked: Discord has to ${rejected ? 'accept the bot token' : 'answer'} first.` };
    return [{ ...token, state: 'problem', text }, { ...server, ...skipped }, { ...roles, ...skipped }, oauth];
  }
  const { report } = permissions;
  if (!report.inGuild) {
    return [
      { ...token, state: 'ok', text: 'Discord accepts DISCORD_BOT_TOKEN.' },
      { ...server, state: 'problem', text: `the bot cannot see the server DISCORD_GUILD_ID (${discord.guildId}): check the ID (Copy Server ID in Discord), or invite the bot to that server.` },
      { ...roles, state: 'skipped', text: 'not checked: the bot has to be in the server first.' },
      oauth,
    ];
  }
  return [
    { ...token, state: 'ok', text: 'Discord accepts DISCORD_BOT_TOKEN.' },
    { ...server, state: 'ok', text: `the bot is a member of the server DISCORD_GUILD_ID (${discord.guildId}).` },
    { ...roles, ...rolesCheck(report) },
    oauth,
  ];
}

function rolesCheck(report: PermissionReport): Pick<Check, 'state' | 'text'> {
  if (report.problems.length > 0) return { state: 'problem', text: report.problems.join(' ') };
  const names = report.roles.map((r) => `"${r.name ?? r.id}"`).join(', ');
  return {
    state: 'ok',
    text: `the bot has Manage Roles and Create Invite, and every managed role (${names}) is below its highest role "${report.botHighestRole?.name ?? '?'}".`,
  };
}

async function checkOAuth(discord: DiscordConfig, timeoutMs: number): Promise<Check> {
  const name = 'Discord OAuth';
  try {
    const { status, error } = await within(timeoutMs, checkClientCredentials(discord));
    if (error === null) return { name, state: 'ok', text: 'Discord accepts DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET.' };
    if (error === 'invalid_client' || error === 'unauthorized_client') {
      return { name, state: 'problem', text: `DISCORD_CLIENT_ID or DISCORD_CLIENT_SECRET was rejected by Discord (${status} ${error}): copy both again from the Developer Portal > your application > OAuth2.` };
    }
    return { name, state: 'problem', text: `Discord did not accept the check of DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET (${status} ${error}).` };
  } catch (err) {
    return { name, state: 'problem', text: `${unanswered(err)} Check DISCORD_API_URL (${discord.apiUrl}) and the network.` };
  }
}

function ghostOff(): Check {
  return { name: 'Ghost', state: 'off', text: 'CMS_URL and CMS_ADMIN_KEY are not set: Discord IDs are not written to Ghost.' };
}

async function checkGhost(ghost: GhostConfig, timeoutMs: number): Promise<Check> {
  const name = 'Ghost';
  try {
    await within(timeoutMs, createGhostClient(ghost).ping());
    return { name, state: 'ok', text: `Ghost at CMS_URL (${ghost.url}) accepts CMS_ADMIN_KEY (members can be read).` };
  } catch (err) {
    const status = isArbiterError(err) ? (err.details as { status?: number } | undefined)?.status : undefined;
    const detail = messageOf(err).replace(/^Ghost refused the request \(\d+\): /, '');
    if (status === 401 || status === 403) {
      return { name, state: 'problem', text: `CMS_ADMIN_KEY was rejected by Ghost (${status} ${detail}): copy the Admin API key of a custom integration (Ghost Admin > Settings > Integrations).` };
    }
    if (status === 404) {
      return { name, state: 'problem', text: `there is no Ghost Admin API at CMS_URL (${ghost.url}, 404): CMS_URL is the site's own address, e.g. https://blog.example.com.` };
    }
    return { name, state: 'problem', text: `${unanswered(err)} Check CMS_URL (${ghost.url}) and the network.` };
  }
}
