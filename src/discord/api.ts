/**
 * The bot's REST calls, through discord.js's REST client pointed at DISCORD_API_URL. Rate limits are paced by the
 * client from Discord's headers: a short wait is waited inside the call; a long one (a global limit, an exhausted
 * shared bucket) becomes an error that pauses the job's lane until the reset. Every call is made from a durable
 * job or a sign-in, and those own retries.
 *
 * A 401 makes discord.js forget the bot token for good; here the token is set again, the rejection is reported in
 * words (log, audit, /health) and the lane waits, so one stray 401 does not break every later call.
 */
import { DiscordAPIError, REST, RESTEvents, RateLimitError, Routes } from 'discord.js';
import { z } from 'zod';
import type { AuditLog } from '../audit/log.js';
import type { DiscordConfig } from '../config.js';
import { ArbiterError } from '../errors.js';
import { retryDelay } from '../jobs/worker.js';
import type { Logger } from '../log.js';
import { DiscordCode, mapDiscordError } from './errors.js';
import { permissionReport, type GuildRole, type PermissionReport } from './permissions.js';

export interface GuildMember {
  userId: string;
  roles: string[];
}

export interface DiscordApi {
  /** The member, or null when the user is not in the server. */
  getMember(userId: string): Promise<GuildMember | null>;
  /** One page of the member list, by user ID ascending, after `after` (a user ID, or '0' for the start). */
  listMembers(after: string, limit?: number): Promise<GuildMember[]>;
  addRole(userId: string, roleId: string, reason: string): Promise<void>;
  removeRole(userId: string, roleId: string, reason: string): Promise<void>;
  /** Adds the user with their OAuth access token (scope guilds.join); 'already' when they were a member. */
  joinGuild(userId: string, accessToken: string): Promise<'joined' | 'already'>;
  checkPermissions(managed: ReadonlySet<string>): Promise<PermissionReport>;
  /** The server's roles as they are now. */
  guildRoles(): Promise<GuildRole[]>;
  /** Whether Discord accepted the bot token at the last call ('unknown' before the first). */
  tokenStatus(): { status: 'ok' | 'rejected' | 'unknown'; problem: string | null; since: string | null };
}

export interface DiscordApiOptions {
  log: Logger;
  audit: AuditLog;
  clock: { now(): Date };
  /** Told of every answer Discord gives, the 429s that discord.js waits out and sends again included. */
  metrics?: { discordAnswer(method: string, path: string, status: number): void };
  /** Rate-limit waits up to this long happen inside the call; longer ones pause the lane. Default 10 s. */
  maxInlineWaitMs?: number;
  /** The lane's pause after a rejected token: from baseMs, doubling up to maxMs while Discord keeps rejecting it. */
  tokenRetry?: { baseMs?: number; maxMs?: number };
}

const Member = z.object({ user: z.object({ id: z.string() }), roles: z.array(z.string()) });
const Role = z.object({ id: z.string(), name: z.string(), position: z.number(), permissions: z.string() });
const User = z.object({ id: z.string() });

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ArbiterError('discord_unavailable', `Discord sent an unexpected answer for ${what}`, { retryable: true });
  return result.data;
}

export const DEFAULT_MAX_INLINE_WAIT_MS = 10_000;
/** Discord's largest page of members. */
export const MEMBER_PAGE = 1000;

export function createDiscordApi(config: DiscordConfig, options: DiscordApiOptions): DiscordApi {
  const { log, audit, clock } = options;
  const maxInlineWaitMs = options.maxInlineWaitMs ?? DEFAULT_MAX_INLINE_WAIT_MS;
  const rest = new REST({
    api: config.apiUrl,
    version: '10',
    retries: 0,
    timeout: 15_000,
    rejectOnRateLimit: (limit) => limit.timeToReset > maxInlineWaitMs,
  }).setToken(config.botToken);
  const { metrics } = options;
  if (metrics) rest.on(RESTEvents.Response, (request, response) => metrics.discordAnswer(request.method, request.path, response.status));
  const guild = config.guildId;
  let token: ReturnType<DiscordApi['tokenStatus']> = { status: 'unknown', problem: null, since: null };
  let rejections = 0;

  const tokenRejected = (what: string): ArbiterError => {
    rest.setToken(config.botToken);
    rejections++;
    const problem = 'Discord rejected the bot token. Check DISCORD_BOT_TOKEN (Developer Portal > Bot > Reset Token); role changes wait until Discord accepts it.';
    if (token.status !== 'rejected') {
      token = { status: 'rejected', problem, since: clock.now().toISOString() };
      log.error({ while: what }, problem);
      audit.record({ actor: 'system', action: 'discord.token_rejected', reason: problem, details: { while: what } });
    }
    const waitMs = retryDelay(rejections, options.tokenRetry?.baseMs ?? 5_000, options.tokenRetry?.maxMs ?? 5 * 60_000);
    return new ArbiterError('discord_unauthorized', `Discord rejected the bot token while ${what}`, { retryable: true, pauseLane: true, retryAfterMs: waitMs });
  };
  const tokenAccepted = () => {
    rejections = 0;
    if (token.status === 'rejected') {
      log.info('Discord accepts the bot token again');
      audit.record({ actor: 'system', action: 'discord.token_accepted' });
    }
    if (token.status !== 'ok') token = { status: 'ok', problem: null, since: clock.now().toISOString() };
  };
  const call = async <T>(what: string, fn: () => Promise<T>, refusal?: string): Promise<T> => {
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (err instanceof DiscordAPIError && err.status === 401) throw tokenRejected(what);
      if (err instanceof RateLimitError) log.warn({ while: what, waitMs: Math.round(err.timeToReset), global: err.global, scope: err.scope }, 'Discord rate limit: the lane waits');
      throw mapDiscordError(err, what, refusal);
    }
    tokenAccepted();
    return result;
  };
  let botUserId: string | undefined;
  const guildRoles = async () =>
    parse(z.array(Role), await call('reading the server roles', () => rest.get(Routes.guildRoles(guild))), 'the role list');

  return {
    getMember: (userId) =>
      call(`reading member ${userId}`, async () => {
        try {
          const m = parse(Member, await rest.get(Routes.guildMember(guild, userId)), 'a member');
          return { userId: m.user.id, roles: m.roles };
        } catch (err) {
          if (err instanceof DiscordAPIError && err.code === DiscordCode.UnknownMember) return null;
          throw err;
        }
      }),
    async listMembers(after, limit = MEMBER_PAGE) {
      const query = new URLSearchParams({ limit: String(limit), after });
      const page = parse(z.array(Member), await call('listing members', () => rest.get(Routes.guildMembers(guild), { query })), 'the member list');
      return page.map((m) => ({ userId: m.user.id, roles: m.roles }));
    },
    addRole: (userId, roleId, reason) =>
      call(`adding role ${roleId} to ${userId}`, async () => void (await rest.put(Routes.guildMemberRole(guild, userId, roleId), { reason }))),
    removeRole: (userId, roleId, reason) =>
      call(`removing role ${roleId} from ${userId}`, async () => void (await rest.delete(Routes.guildMemberRole(guild, userId, roleId), { reason }))),
    async joinGuild(userId, accessToken) {
      const result = await call(
        `adding ${userId} to the server`,
        () => rest.put(Routes.guildMember(guild, userId), { body: { access_token: accessToken } }),
        'the bot lacks the Create Invite permission, which Discord requires to add members',
      );
      // 201 carries the new member; 204 (already a member) has no body.
      return result && typeof result === 'object' && 'user' in result ? 'joined' : 'already';
    },
    async checkPermissions(managed) {
      botUserId ??= parse(User, await call('reading the bot user', () => rest.get(Routes.user('@me'))), 'the bot user').id;
      const me = botUserId;
      let roles: GuildRole[] | null = null;
      let botRoles: string[] | null = null;
      try {
        roles = await guildRoles();
        botRoles = parse(Member, await call('reading the bot member', () => rest.get(Routes.guildMember(guild, me))), 'the bot member').roles;
      } catch (err) {
        const code = (err as ArbiterError).code;
        if (code !== 'discord_unknown_guild' && code !== 'discord_unknown_member') throw err;
      }
      return permissionReport(guild, roles, botRoles, managed);
    },
    tokenStatus: () => token,
    guildRoles,
  };
}
