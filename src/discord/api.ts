/**
 * The bot's REST calls, through discord.js's REST client pointed at DISCORD_API_URL. The client does not wait on
 * rate limits or retry by itself: every call is made from a durable job, and the job queue owns retries.
 */
import { DiscordAPIError, REST, Routes } from 'discord.js';
import { z } from 'zod';
import type { DiscordConfig } from '../config.js';
import { ArbiterError } from '../errors.js';
import { DiscordCode, mapDiscordError } from './errors.js';
import { permissionReport, type GuildRole, type PermissionReport } from './permissions.js';

export interface GuildMember {
  userId: string;
  roles: string[];
}

export interface DiscordApi {
  /** The member, or null when the user is not in the server. */
  getMember(userId: string): Promise<GuildMember | null>;
  listMembers(): Promise<GuildMember[]>;
  addRole(userId: string, roleId: string, reason: string): Promise<void>;
  removeRole(userId: string, roleId: string, reason: string): Promise<void>;
  /** Adds the user with their OAuth access token (scope guilds.join); 'already' when they were a member. */
  joinGuild(userId: string, accessToken: string): Promise<'joined' | 'already'>;
  checkPermissions(managed: ReadonlySet<string>): Promise<PermissionReport>;
}

const Member = z.object({ user: z.object({ id: z.string() }), roles: z.array(z.string()) });
const Role = z.object({ id: z.string(), name: z.string(), position: z.number(), permissions: z.string() });
const User = z.object({ id: z.string() });

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ArbiterError('discord_unavailable', `Discord sent an unexpected answer for ${what}`, { retryable: true });
  return result.data;
}

export function createRest(config: Pick<DiscordConfig, 'apiUrl' | 'botToken'>): REST {
  return new REST({ api: config.apiUrl, version: '10', retries: 0, timeout: 15_000, rejectOnRateLimit: () => true }).setToken(config.botToken);
}

export function createDiscordApi(config: DiscordConfig, rest: REST = createRest(config)): DiscordApi {
  const guild = config.guildId;
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw mapDiscordError(err, what);
    }
  };
  let botUserId: string | undefined;

  return {
    async getMember(userId) {
      try {
        const m = parse(Member, await rest.get(Routes.guildMember(guild, userId)), 'a member');
        return { userId: m.user.id, roles: m.roles };
      } catch (err) {
        if (err instanceof DiscordAPIError && err.code === DiscordCode.UnknownMember) return null;
        throw mapDiscordError(err, `reading member ${userId}`);
      }
    },
    async listMembers() {
      const members: GuildMember[] = [];
      let after = '0';
      for (;;) {
        const query = new URLSearchParams({ limit: '1000', after });
        const page = parse(z.array(Member), await call('listing members', () => rest.get(Routes.guildMembers(guild), { query })), 'the member list');
        for (const m of page) members.push({ userId: m.user.id, roles: m.roles });
        if (page.length < 1000) return members;
        after = page[page.length - 1]!.user.id;
      }
    },
    addRole: (userId, roleId, reason) =>
      call(`adding role ${roleId} to ${userId}`, async () => void (await rest.put(Routes.guildMemberRole(guild, userId, roleId), { reason }))),
    removeRole: (userId, roleId, reason) =>
      call(`removing role ${roleId} from ${userId}`, async () => void (await rest.delete(Routes.guildMemberRole(guild, userId, roleId), { reason }))),
    async joinGuild(userId, accessToken) {
      const result = await call(`adding ${userId} to the server`, () =>
        rest.put(Routes.guildMember(guild, userId), { body: { access_token: accessToken } }),
      );
      // 201 carries the new member; 204 (already a member) has no body.
      return result && typeof result === 'object' && 'user' in result ? 'joined' : 'already';
    },
    async checkPermissions(managed) {
      botUserId ??= parse(User, await call('reading the bot user', () => rest.get(Routes.user('@me'))), 'the bot user').id;
      let roles: GuildRole[] | null = null;
      let botRoles: string[] | null = null;
      try {
        roles = parse(z.array(Role), await rest.get(Routes.guildRoles(guild)), 'the role list');
        botRoles = parse(Member, await rest.get(Routes.guildMember(guild, botUserId)), 'the bot member').roles;
      } catch (err) {
        const mapped = mapDiscordError(err, 'reading the server');
        if (mapped.code !== 'discord_unknown_guild' && mapped.code !== 'discord_unknown_member') throw mapped;
      }
      return permissionReport(guild, roles, botRoles, managed);
    },
  };
}
