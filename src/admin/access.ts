/** Who may use the panel, and what a signed-in session holds. */
import type { Actor } from '../audit/log.js';
import type { Config } from '../config.js';
import type { PendingState } from '../discord/oauth-state.js';
import type { Outcome } from './outcome.js';

/** admin: reads and acts. staff: reads only. */
export type AdminRole = 'admin' | 'staff';

export interface AdminIdentity {
  id: string;
  name: string;
  role: AdminRole;
}

export interface AdminSession {
  id: string;
  name: string;
  /** Epoch ms of the sign-in (absolute limit) and of the last request (idle limit). */
  signedInAt: number;
  seenAt: number;
}

export interface AdminSignIn extends PendingState {
  /** The panel page to return to after sign-in. */
  next: string;
}

/** What the page after a change says: the change's outcome, or a note when there was nothing to do. */
export type Flash = Outcome | { kind: 'info'; text: string };

/** Read on every request, so a person taken off the lists (and the process restarted) is out at once. */
export function roleOf(config: Pick<Config, 'adminDiscordIds' | 'staffDiscordIds'>, discordId: string): AdminRole | null {
  if (config.adminDiscordIds.includes(discordId)) return 'admin';
  if (config.staffDiscordIds.includes(discordId)) return 'staff';
  return null;
}

export function actorOf(admin: Pick<AdminIdentity, 'id'>): Actor {
  return `admin:${admin.id}`;
}

/** Who acts, as the audit log names them: an admin in the panel, a user of the command line, or a program with an API key. */
export interface Acting {
  actor: Actor;
  name: string;
}

export function actingAdmin(admin: Pick<AdminIdentity, 'id' | 'name'>): Acting {
  return { actor: actorOf(admin), name: admin.name };
}
