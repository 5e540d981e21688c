/**
 * The discord.js client: a gateway connection for member events (a member who joins or re-joins gets their roles),
 * and the bot's health: connected or not, whether Discord accepts its token, and what the permission check found.
 */
import { Client, Events, GatewayIntentBits, Options } from 'discord.js';
import type { DiscordConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { DiscordApi } from './api.js';
import type { PermissionReport } from './permissions.js';

export type BotState = 'starting' | 'ready' | 'reconnecting' | 'failed' | 'stopped';

/**
 * Arbiter reads members over REST when it needs them; the gateway's caches only have to hold what discord.js itself
 * needs, so they are bounded: memory stays flat on a server of any size.
 */
export const MEMBER_CACHE_LIMIT = 200;

export interface BotHealth {
  status: BotState;
  error?: string;
  token: 'ok' | 'rejected' | 'unknown';
  inGuild: boolean | null;
  manageRoles: boolean | null;
  createInvite: boolean | null;
  /** One plain sentence per problem: the token, permissions, roles by name. */
  problems: string[];
  checkedAt: string | null;
  cache: { members: number; users: number };
}

export interface Bot {
  start(): void;
  stop(): Promise<void>;
  /** Re-reads the server's roles and the bot's place among them. */
  checkPermissions(): Promise<PermissionReport | null>;
  roleName(roleId: string): string | undefined;
  /** The last permission check, null before the first. */
  report(): PermissionReport | null;
  health(): BotHealth;
}

export interface BotOptions {
  config: DiscordConfig;
  api: DiscordApi;
  managed: ReadonlySet<string>;
  log: Logger;
  onMemberJoin(userId: string): void;
}

export function createBot(options: BotOptions): Bot {
  const { config, api, managed, log } = options;
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers],
    rest: { api: config.apiUrl, retries: 1, timeout: 15_000 },
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      GuildMemberManager: { maxSize: MEMBER_CACHE_LIMIT, keepOverLimit: (member) => member.id === member.client.user.id },
      UserManager: { maxSize: MEMBER_CACHE_LIMIT, keepOverLimit: (user) => user.id === user.client.user.id },
      PresenceManager: 0,
      VoiceStateManager: 0,
    }),
  });
  let state: BotState = 'starting';
  let failure: string | undefined;
  let report: PermissionReport | null = null;
  let checkedAt: string | undefined;

  const checkPermissions = async () => {
    try {
      report = await api.checkPermissions(managed);
      checkedAt = new Date().toISOString();
      if (report.ok) log.info({ bot: report.botHighestRole?.name }, 'Discord permissions are in order');
      else for (const problem of report.problems) log.error({ problem }, 'Discord permission problem');
    } catch (err) {
      log.warn({ error: (err as Error).message }, 'could not check Discord permissions');
    }
    return report;
  };

  client.on(Events.ClientReady, (c) => {
    state = 'ready';
    log.info({ bot: c.user.tag, guilds: c.guilds.cache.size }, 'Discord gateway ready');
    void checkPermissions();
  });
  const follow = (next: BotState) => () => {
    if (state !== 'stopped') state = next;
  };
  client.on(Events.ShardDisconnect, follow('reconnecting'));
  client.on(Events.ShardReconnecting, follow('reconnecting'));
  client.on(Events.ShardResume, follow('ready'));
  client.on(Events.ShardReady, follow('ready'));
  client.on(Events.Error, (err) => log.error({ error: err.message }, 'Discord client error'));
  client.on(Events.GuildMemberAdd, (member) => {
    if (member.guild.id !== config.guildId) return;
    log.info({ discordId: member.id }, 'member joined the server');
    // The gateway must never be taken down by our own trouble (a database error): the sweep heals a missed join.
    try {
      options.onMemberJoin(member.id);
    } catch (err) {
      log.error({ discordId: member.id, error: (err as Error).message }, 'could not queue the roles of a member who joined; the next sweep will');
    }
  });

  return {
    start() {
      client.login(config.botToken).catch((err: Error) => {
        state = 'failed';
        failure = err.message;
        log.error({ error: err.message }, 'Discord login failed; webhooks are still accepted and role changes wait');
      });
    },
    async stop() {
      state = 'stopped';
      await client.destroy();
    },
    checkPermissions,
    report: () => report,
    roleName: (roleId) => report?.roleNames[roleId] ?? client.guilds.cache.get(config.guildId)?.roles.cache.get(roleId)?.name,
    health() {
      const token = api.tokenStatus();
      return {
        status: state,
        ...(failure ? { error: failure } : {}),
        token: token.status,
        inGuild: report?.inGuild ?? null,
        manageRoles: report?.manageRoles ?? null,
        createInvite: report?.createInvite ?? null,
        problems: [...(token.problem ? [token.problem] : []), ...(report?.problems ?? [])],
        checkedAt: checkedAt ?? null,
        cache: { members: client.guilds.cache.get(config.guildId)?.members.cache.size ?? 0, users: client.users.cache.size },
      };
    },
  };
}
