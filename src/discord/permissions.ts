/**
 * Can the bot do its job? Whether it is in the server, has Manage Roles, sits above every managed role, and has
 * Create Invite (Discord requires it to add a subscriber who is not in the server yet).
 * Pure: computed from the guild's roles and the bot's member, so the rules are tested without Discord.
 */
export interface GuildRole {
  id: string;
  name: string;
  position: number;
  permissions: string;
}

export interface PermissionReport {
  ok: boolean;
  inGuild: boolean;
  manageRoles: boolean;
  createInvite: boolean;
  botHighestRole: { id: string; name: string; position: number } | null;
  /** One plain sentence per problem, naming roles by name. */
  problems: string[];
  /** Managed role id -> name, for pages and messages. */
  roleNames: Record<string, string>;
  /** Each managed role: its name (null when it does not exist on the server) and whether the bot can give it. */
  roles: { id: string; name: string | null; manageable: boolean }[];
}

const CREATE_INSTANT_INVITE = 1n << 0n;
const MANAGE_ROLES = 1n << 28n;
const ADMINISTRATOR = 1n << 3n;

export function permissionReport(
  guildId: string,
  roles: readonly GuildRole[] | null,
  botRoleIds: readonly string[] | null,
  managed: ReadonlySet<string>,
): PermissionReport {
  if (!roles || !botRoleIds) {
    return {
      ok: false,
      inGuild: false,
      manageRoles: false,
      createInvite: false,
      botHighestRole: null,
      problems: ['The bot is not in the Discord server DISCORD_GUILD_ID. Invite it with the Manage Roles permission.'],
      roleNames: {},
      roles: [...managed].sort().map((id) => ({ id, name: null, manageable: false })),
    };
  }
  const byId = new Map(roles.map((r) => [r.id, r]));
  const mine = [guildId, ...botRoleIds].map((id) => byId.get(id)).filter((r): r is GuildRole => r !== undefined);
  const permissions = mine.reduce((acc, r) => acc | BigInt(r.permissions), 0n);
  const manageRoles = (permissions & (MANAGE_ROLES | ADMINISTRATOR)) !== 0n;
  const createInvite = (permissions & (CREATE_INSTANT_INVITE | ADMINISTRATOR)) !== 0n;
  const highest = mine.filter((r) => r.id !== guildId).sort((a, b) => b.position - a.position || a.id.localeCompare(b.id))[0];
  const problems: string[] = [];
  if (!manageRoles) problems.push('The bot lacks the Manage Roles permission. Give one of its roles Manage Roles in Server Settings > Roles.');
  if (!createInvite) {
    problems.push('The bot lacks the Create Invite permission, so subscribers who are not in the server yet cannot be added when they link. Give one of its roles Create Invite in Server Settings > Roles.');
  }
  const roleNames: Record<string, string> = {};
  const roleStates: PermissionReport['roles'] = [];
  for (const id of [...managed].sort()) {
    const role = byId.get(id);
    if (!role) {
      problems.push(`Role ${id} in config/roles.json does not exist on the server.`);
      roleStates.push({ id, name: null, manageable: false });
      continue;
    }
    roleNames[id] = role.name;
    // Discord compares positions; equal positions are ordered by id, and the bot cannot manage a role that ties.
    const below = highest !== undefined && role.position < highest.position;
    roleStates.push({ id, name: role.name, manageable: below && manageRoles });
    if (!below) {
      problems.push(
        `The role "${role.name}" is not below the bot's highest role${highest ? ` "${highest.name}"` : ''}. Drag the bot's role above it in Server Settings > Roles.`,
      );
    }
  }
  return {
    ok: problems.length === 0,
    inGuild: true,
    manageRoles,
    createInvite,
    botHighestRole: highest ? { id: highest.id, name: highest.name, position: highest.position } : null,
    problems,
    roleNames,
    roles: roleStates,
  };
}
