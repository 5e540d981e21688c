import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { ArbiterError } from '../errors.js';

/** Discord's JSON error codes that Arbiter treats specially. */
export const DiscordCode = {
  UnknownGuild: 10004,
  UnknownMember: 10007,
  UnknownRole: 10011,
  UnknownUser: 10013,
  MissingAccess: 50001,
  MissingPermissions: 50013,
  InvalidOAuthToken: 50025,
} as const;

/**
 * Turns whatever the REST client threw into an ArbiterError a job can act on: 5xx and network trouble are retried;
 * a rate limit pauses the lane until Discord's reset (every Discord job would meet it); permission and unknown-role
 * problems are final and worded for the admin who has to fix them. `refusal` words a 50013 for calls whose
 * missing permission is not Manage Roles.
 */
export function mapDiscordError(err: unknown, what: string, refusal?: string): ArbiterError {
  if (err instanceof ArbiterError) return err;
  if (err instanceof RateLimitError) {
    const waitMs = Math.max(err.retryAfter, err.timeToReset, 250);
    return new ArbiterError('discord_rate_limited', `Discord rate limit${err.global ? ' (global)' : ''} while ${what}; waiting ${Math.ceil(waitMs / 1000)} s`, {
      retryable: true,
      pauseLane: true,
      retryAfterMs: waitMs,
      cause: err,
    });
  }
  if (err instanceof DiscordAPIError) {
    switch (err.code) {
      case DiscordCode.UnknownMember:
        return new ArbiterError('discord_unknown_member', `the user is not a member of the server (${what})`, { cause: err });
      case DiscordCode.UnknownRole:
        return new ArbiterError('discord_unknown_role', `the role does not exist on the server (${what}); check config/roles.json`, { cause: err });
      case DiscordCode.UnknownGuild:
      case DiscordCode.MissingAccess:
        return new ArbiterError('discord_unknown_guild', `the bot is not in the server DISCORD_GUILD_ID (${what}); invite it first`, { cause: err });
      case DiscordCode.MissingPermissions:
        return new ArbiterError('discord_missing_permissions', `Discord refused ${what}: ${refusal ?? "the bot lacks Manage Roles or the role is not below the bot's highest role"}`, { cause: err });
    }
    if (err.status >= 500) {
      return new ArbiterError('discord_unavailable', `Discord answered ${err.status} while ${what}`, { retryable: true, cause: err });
    }
    return new ArbiterError('discord_unavailable', `Discord refused ${what}: ${err.status} ${err.code} ${err.message}`, { cause: err });
  }
  if (err instanceof HTTPError) {
    return new ArbiterError('discord_unavailable', `Discord answered ${err.status} while ${what}`, { retryable: true, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ArbiterError('discord_unavailable', `Discord could not be reached while ${what}: ${message}`, { retryable: true, cause: err });
}
