/** Who is in the demo: the Discord server and its people, the Ghost members, and the subscription. */
import type { FakeRole, FakeUser } from '../stand-ins/discord.js';
import type { SeedMember } from '../stand-ins/ghost.js';

export const GUILD = { id: '1150000000000000001', name: 'Arbiter Demo' };
export const CLIENT = { clientId: '1150000000000000002', clientSecret: 'demo-client-secret', botToken: 'demo-bot-token-0123456789abcdef' };

export const ROLE = { awakened: '1150000000000000011', ascended: '1150000000000000012', booster: '1150000000000000013' };
/** The bot's own role goes above these (the stand-in puts it one above the highest). */
export const ROLES: FakeRole[] = [
  { id: ROLE.booster, name: 'Server Booster', position: 1 },
  { id: ROLE.awakened, name: 'Awakened', position: 2 },
  { id: ROLE.ascended, name: 'Ascended', position: 3 },
];
/** roles.json: the tiers Arbiter manages. Server Booster is nobody's tier, so Arbiter never touches it. */
export const TIERS = { awakened: [ROLE.awakened], ascended: [ROLE.awakened, ROLE.ascended] };

export const SUBSCRIBER: FakeUser = { id: '1150000000000000101', username: 'grace', global_name: 'Grace Hopper' };
export const ADMIN: FakeUser = { id: '1150000000000000102', username: 'ada', global_name: 'Ada Lovelace' };
export const MEMBER: FakeUser = { id: '1150000000000000103', username: 'kai', global_name: 'Kai Lindqvist' };
/** In the order the consent page offers them. The subscriber joins the server when they link. */
export const USERS = [SUBSCRIBER, ADMIN, MEMBER];
export const MEMBERS: { user: FakeUser; roles: string[] }[] = [
  { user: ADMIN, roles: [] },
  { user: MEMBER, roles: [ROLE.booster] },
];

export const SUBSCRIPTION = {
  subscription_id: 'sub_demo',
  customer_email: 'grace@example.com',
  customer_name: 'Grace Hopper',
  tier: 'awakened',
};

export const GHOST_MEMBERS: SeedMember[] = [
  { email: SUBSCRIPTION.customer_email, name: 'Grace Hopper', status: 'paid' },
  { email: 'ada@example.com', name: 'Ada Lovelace', status: 'comped' },
  { email: 'kai@example.com', name: 'Kai Lindqvist', status: 'free' },
];
