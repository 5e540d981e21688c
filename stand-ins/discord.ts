/**
 * A local stand-in for Discord (API v10): OAuth2 (authorize, token, revoke), the bot REST routes Arbiter uses,
 * and a gateway WebSocket that the unmodified discord.js 14 client logs in to.
 *
 * Shapes, status codes and error bodies follow Discord's: `{ message, code }` JSON errors (with `errors` for
 * form errors), 201 vs 204 on guilds.join, 204 role changes, 10004/10007/10011/50001/50013/50025, JSON written
 * the way Discord writes it (`{"message": "...", "code": 0}`), `{ error }` bodies on the OAuth2 token endpoint,
 * gateway close codes 4001-4013. Rate limits (discord-rate-limits.ts) put Discord's headers on every API answer
 * and answer 429 like Discord: per route bucket and guild, and globally for the bot token.
 */
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { constants as zlibConstants, createDeflate, deflateSync, type Deflate } from 'node:zlib';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  RateLimiter, type Admission, type RateLimitBucketStats, type RateLimitOptions, type RateLimitScope,
} from './discord-rate-limits.js';
import type { RecordedRequest as HttpRequestRecord } from './recorded-request.js';

export type { RateLimitBucketStats, RateLimitOptions, RateLimitScope, RouteRateLimit } from './discord-rate-limits.js';

export interface FakeRole {
  id: string;
  name: string;
  position: number;
  permissions?: string;
}
export interface FakeUser {
  id: string;
  username: string;
  global_name?: string | null;
  avatar?: string | null;
  /** Returned by /users/@me when the token has the `email` scope (default `${username}@example.com`). */
  email?: string | null;
}
export interface FakeDiscordOptions {
  clientId: string;
  clientSecret: string;
  botToken: string;
  guildId: string;
  /** Default: clientId when it is a snowflake (a bot's user id is its application id), else a new snowflake. */
  botUserId?: string;
  guildName?: string;
  /** Also the bot's username and the name on the consent page. Default "Arbiter". */
  applicationName?: string;
  /** Guild roles besides @everyone, which the fake adds with id = guildId and position 0. */
  roles: FakeRole[];
  /** Position of the bot's own (managed) role. Default: above all given roles. */
  botRolePosition?: number;
  /** Default true: the bot's role has MANAGE_ROLES (1<<28). */
  botCanManageRoles?: boolean;
  botInGuild?: boolean;
  /** 'auto' redirects at once; 'page' serves a consent page with Authorize and Cancel buttons (no JS). */
  consent?: 'auto' | 'page';
  /**
   * The consent page also asks who is signing in, listing every user but the bot and the server's owner (standing
   * in for Discord's login and its "Not you?" account switch): nobody needs to be signed in, and signIn() only
   * preselects. Implies consent 'page'.
   */
  accountChooser?: boolean;
  /** Port on 127.0.0.1. Default 0: any free port. */
  port?: number;
  /** The application's registered redirect URIs. When given, authorize accepts only these (exactly). */
  redirectUris?: string[];
  /** HELLO's heartbeat_interval. Default 41250 ms, like Discord. */
  heartbeatIntervalMs?: number;
  /** Time for code/token expiry, joined_at, snowflakes and `at`. Default: the system clock. Rate limits always
   *  run on the real clock, because clients wait on it. */
  clock?: { now(): Date };
  /** Discord's rate limits. Default: 1000 requests per route bucket per second and no global limit, which no
   *  test reaches. */
  rateLimits?: RateLimitOptions;
}
export interface RateLimitStats {
  /** 429 answers so far, by their X-RateLimit-Scope (those of faults included). */
  tooManyRequests: Record<RateLimitScope, number>;
  /** Answers Discord counts towards its invalid request limit: 401, 403, and 429 unless its scope is shared. */
  invalidRequests: number;
  /** Requests counted against the bot's global limit, and how many of them it refused. */
  global: { requests: number; refused: number };
  buckets: RateLimitBucketStats[];
}
export interface RecordedRequest extends HttpRequestRecord {
  at: number;
}
export interface Fault {
  method?: string;
  /** Matched against the path after /api or /api/v10 (e.g. "/users/@me"); other paths as they are. */
  path?: string | RegExp;
  /** How many matching requests get this answer. Default 1; Infinity for all. */
  times?: number;
  /** Without a status, the fault only delays the request (delayMs), which is then answered as usual. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Seconds, for 429. Default 1. Sent as given in Retry-After (Discord rounds the header up to whole seconds). */
  retryAfter?: number;
  global?: boolean;
  delayMs?: number;
}
export interface RoleChange {
  userId: string;
  roleId: string;
  action: 'add' | 'remove';
  /** 'bot' for REST calls with the bot token, 'hand' for setMemberRoles/memberJoins. */
  by: 'bot' | 'hand';
  /** X-Audit-Log-Reason, URL-decoded. */
  reason: string | undefined;
  at: number;
}
export interface IdentifyRecord {
  intents: number;
  shard: [number, number];
  compress: 'zlib-stream' | 'payload' | 'none';
  at: number;
}
export interface FakeDiscord {
  url: string;
  apiUrl: string;
  authorizeUrl: string;
  gatewayUrl: string;
  botUserId: string;
  botRoleId: string;
  ownerId: string;
  requests: RecordedRequest[];
  roleChanges: RoleChange[];
  identifies: IdentifyRecord[];
  addUser(user: FakeUser): void;
  signIn(userId: string): void;
  denyNextConsent(): void;
  memberJoins(userId: string, roles?: string[]): void;
  memberLeaves(userId: string): void;
  setMemberRoles(userId: string, roles: string[]): void;
  member(userId: string): { roles: string[]; joinedAt: string } | undefined;
  user(userId: string): FakeUser | undefined;
  /** The guild's roles, @everyone and the bot's managed role included, highest first. */
  guildRoles(): { id: string; name: string; position: number; managed: boolean }[];
  /** Every member's user ID, the bot's and the owner's included. */
  memberIds(): string[];
  setBotPermissions(opts: { canManageRoles?: boolean; rolePosition?: number }): void;
  addFault(f: Fault): void;
  clearFaults(): void;
  /** Changes the rate limits: the given settings replace the current ones (`routes` route by route), and every
   *  window starts afresh. Counters carry on. Throws on a setting that is not valid. */
  setRateLimits(limits: RateLimitOptions): void;
  rateLimitStats(): RateLimitStats;
  /** Closes every gateway connection with `code` (default 4000, which clients resume after). With
   *  `invalidate`, the sessions are forgotten too, so a RESUME gets op 9 and the client identifies again. */
  disconnectGateway(opts?: { code?: number; invalidate?: boolean }): void;
  gatewayIdentifies: number;
  gatewayResumes: number;
  /** Open gateway WebSockets right now. */
  gatewayConnections: number;
  close(): Promise<void>;
}

const DISCORD_EPOCH = 1420070400000n;
const MANAGE_ROLES = 1n << 28n;
const ADMINISTRATOR = 1n << 3n;
const CREATE_INSTANT_INVITE = 1n;
// What a new server's @everyone gets: invite, view, send, reactions, history, connect, speak, nickname, ...
const EVERYONE_PERMISSIONS = (1n << 0n) | (1n << 6n) | (1n << 10n) | (1n << 11n) | (1n << 14n) | (1n << 15n) |
  (1n << 16n) | (1n << 18n) | (1n << 20n) | (1n << 21n) | (1n << 25n) | (1n << 26n) | (1n << 31n);
const BOT_ROLE_BASE_PERMISSIONS = (1n << 10n) | (1n << 11n) | CREATE_INSTANT_INVITE;

const INTENT_GUILDS = 1 << 0;
const INTENT_GUILD_MEMBERS = 1 << 1;
const INTENT_GUILD_PRESENCES = 1 << 8;

const CODE_TTL_MS = 10 * 60_000;
const TOKEN_TTL_S = 604_800;
const BACKLOG = 1000; // dispatches kept per session for RESUME

const KNOWN_SCOPES = new Set([
  'activities.read', 'activities.write', 'applications.builds.read', 'applications.builds.upload',
  'applications.commands', 'applications.commands.update', 'applications.commands.permissions.update',
  'applications.entitlements', 'applications.store.update', 'bot', 'connections', 'dm_channels.read', 'email',
  'gdm.join', 'guilds', 'guilds.join', 'guilds.members.read', 'identify', 'messages.read', 'openid',
  'relationships.read', 'role_connections.write', 'rpc', 'rpc.activities.write', 'rpc.notifications.read',
  'rpc.voice.read', 'rpc.voice.write', 'voice', 'webhook.incoming',
]);

const SCOPE_TEXT: Record<string, string> = {
  identify: 'Access your username, avatar, and banner',
  email: 'Access your email address',
  guilds: 'Know what servers you\'re in',
  'guilds.join': 'Join servers for you',
  'guilds.members.read': 'Read your member info (nickname, avatar, roles, etc...) for servers you belong to',
};

interface RoleState {
  id: string;
  name: string;
  position: number;
  permissions: bigint;
  managed: boolean;
  tags?: { bot_id: string };
}
interface MemberState {
  roles: string[];
  joinedAt: string;
  nick: string | null;
}
interface CodeGrant {
  userId: string;
  scopes: string[];
  redirectUri: string;
  expiresAt: number;
  used: boolean;
}
interface TokenGrant {
  userId: string;
  scopes: string[];
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  revoked: boolean;
}
interface PendingConsent {
  /** Undefined until chosen on the page, with accountChooser. */
  userId: string | undefined;
  scopes: string[];
  redirectUri: string;
  state: string | undefined;
}
interface ActiveFault {
  fault: Fault;
  remaining: number;
}
interface ApiResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
interface ApiContext {
  req: IncomingMessage;
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: string;
}
interface Route {
  method: string;
  pattern: string;
  handle: (ctx: ApiContext) => ApiResult;
}
interface GatewayPayload {
  op: number;
  d: unknown;
  s: number | null;
  t: string | null;
}
interface Session {
  id: string;
  intents: number;
  shard: [number, number];
  seq: number;
  backlog: GatewayPayload[];
  conn: Connection | null;
}
interface Connection {
  ws: WebSocket;
  session: Session | null;
  zlib: Deflate | null;
  payloadCompress: boolean;
  timers: Set<NodeJS.Timeout>;
  heartbeatDeadline: NodeJS.Timeout | null;
  sendChain: Promise<void>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function randomAlnum(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

const MAX_SNOWFLAKE = (1n << 63n) - 1n;

function isSnowflake(value: string): boolean {
  return snowflakeProblem(value) === undefined;
}

/** How Discord refuses a value that should be a snowflake, or undefined when it is one. */
function snowflakeProblem(value: string): FieldError | undefined {
  if (!/^\d+$/.test(value)) return { code: 'NUMBER_TYPE_COERCE', message: `Value "${value}" is not snowflake.` };
  if (BigInt(value) > MAX_SNOWFLAKE) {
    return { code: 'NUMBER_TYPE_MAX', message: `snowflake value should be less than or equal to ${MAX_SNOWFLAKE}.` };
  }
  return undefined;
}

/** How Discord refuses an integer query or form field outside [min, max], or undefined when it is fine. */
function intProblem(text: string, min: number, max: number): FieldError | undefined {
  if (!/^-?\d+$/.test(text)) return { code: 'NUMBER_TYPE_COERCE', message: `Value "${text}" is not int.` };
  const value = Number(text);
  if (value < min) return { code: 'NUMBER_TYPE_MIN', message: `int value should be greater than or equal to ${min}.` };
  if (value > max) return { code: 'NUMBER_TYPE_MAX', message: `int value should be less than or equal to ${max}.` };
  return undefined;
}

function compareIds(a: string, b: string): number {
  if (isSnowflake(a) && isSnowflake(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a.localeCompare(b);
}

/** Discord's timestamp format: 2024-01-02T03:04:05.678000+00:00 */
function discordTimestamp(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><link rel="icon" href="data:,"></head>
<body><main>${body}</main></body></html>
`;
}

function apiError(status: number, code: number, message: string, errors?: unknown): ApiResult {
  return { status, body: errors === undefined ? { message, code } : { message, code, errors } };
}

interface FieldError {
  code: string;
  message: string;
}

function formError(field: string, code: string, message: string): ApiResult {
  return apiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code, message }] } });
}

/** Discord's 400 naming every field that has a problem, all at once; undefined when none has one. */
function formErrors(fields: Record<string, FieldError | undefined>): ApiResult | undefined {
  const errors = Object.entries(fields).flatMap(([field, error]) => (error ? [[field, { _errors: [error] }]] : []));
  return errors.length > 0 ? apiError(400, 50035, 'Invalid Form Body', Object.fromEntries(errors)) : undefined;
}

/** Discord's 429. Retry-After is whole seconds, rounded up, unless given; the body has the exact seconds. */
function tooManyRequests(retryAfter: number, scope: RateLimitScope, headers: Record<string, string>,
  retryAfterHeader = String(Math.ceil(retryAfter))): ApiResult {
  const global = scope === 'global';
  return {
    status: 429,
    body: {
      message: scope === 'shared' ? 'The resource is being rate limited.' : 'You are being rate limited.',
      retry_after: retryAfter,
      global,
    },
    headers: {
      ...headers, 'Retry-After': retryAfterHeader, 'X-RateLimit-Scope': scope,
      ...(global ? { 'X-RateLimit-Global': 'true' } : {}),
    },
  };
}

/** JSON as Discord's API writes it: a space after every comma and colon. */
function discordJson(value: unknown): string {
  if (isRecord(value) && typeof value.toJSON === 'function') return discordJson(value.toJSON());
  if (Array.isArray(value)) return `[${value.map((item: unknown) => discordJson(item ?? null)).join(', ')}]`;
  if (isRecord(value)) {
    const fields = Object.entries(value).filter(([, item]) => item !== undefined && typeof item !== 'function');
    return `{${fields.map(([key, item]) => `${JSON.stringify(key)}: ${discordJson(item)}`).join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The admission of a request outside the API, which no bucket counts. */
const NO_BUCKET: Admission = { headers: {}, limit: undefined };

const unauthorized = (): ApiResult => apiError(401, 0, '401: Unauthorized');
const missingAccess = (): ApiResult => apiError(403, 50001, 'Missing Access');
const missingPermissions = (): ApiResult => apiError(403, 50013, 'Missing Permissions');
const unknownMember = (): ApiResult => apiError(404, 10007, 'Unknown Member');
const unknownRole = (): ApiResult => apiError(404, 10011, 'Unknown Role');
const invalidOAuthToken = (): ApiResult => apiError(403, 50025, 'Invalid OAuth2 access token');

function oauthError(status: number, error: string, description?: string): ApiResult {
  return { status, body: description === undefined ? { error } : { error, error_description: description } };
}

function defaultFaultBody(status: number): unknown {
  // Discord's edge (Cloudflare) answers 502/504 with an HTML page, the API itself with JSON.
  if (status === 502 || status === 504) {
    return `<html><head><title>${status} ${STATUS_CODES[status]}</title></head><body><center><h1>${status} ` +
      `${STATUS_CODES[status]}</h1></center><hr><center>cloudflare</center></body></html>`;
  }
  return { message: `${status}: ${STATUS_CODES[status] ?? 'Error'}`, code: 0 };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

class FakeDiscordServer implements FakeDiscord {
  url = '';
  apiUrl = '';
  authorizeUrl = '';
  gatewayUrl = '';
  readonly botUserId: string;
  readonly botRoleId: string;
  readonly ownerId: string;
  readonly requests: RecordedRequest[] = [];
  readonly roleChanges: RoleChange[] = [];
  readonly identifies: IdentifyRecord[] = [];
  gatewayResumes = 0;

  private readonly opts: FakeDiscordOptions;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly users = new Map<string, FakeUser>();
  private readonly roles = new Map<string, RoleState>();
  private readonly members = new Map<string, MemberState>();
  private readonly codes = new Map<string, CodeGrant>();
  private readonly tokens = new Map<string, TokenGrant>(); // by access token
  private readonly refreshTokens = new Map<string, TokenGrant>();
  private readonly authorized = new Map<string, Set<string>>(); // user -> scopes consented before
  private readonly pendingConsents = new Map<string, PendingConsent>();
  private readonly faults: ActiveFault[] = [];
  private readonly rateLimiter: RateLimiter;
  private readonly tooManyRequests: Record<RateLimitScope, number> = { user: 0, global: 0, shared: 0 };
  private invalidRequests = 0;
  private readonly sessions = new Map<string, Session>();
  private readonly connections = new Set<Connection>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly routes: Route[];
  private readonly clock: { now(): Date };
  private readonly heartbeatInterval: number;
  private signedIn: string | undefined;
  private denyNext = false;
  private botInGuild: boolean;
  private sessionStartRemaining = 1000;
  private snowflakeIncrement = 0;
  private closed = false;

  constructor(opts: FakeDiscordOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? { now: () => new Date() };
    this.heartbeatInterval = opts.heartbeatIntervalMs ?? 41250;
    this.botInGuild = opts.botInGuild ?? true;
    this.botUserId = opts.botUserId ?? (isSnowflake(opts.clientId) ? opts.clientId : this.snowflake());
    this.botRoleId = this.snowflake();
    this.ownerId = this.snowflake();
    const appName = opts.applicationName ?? 'Arbiter';

    this.users.set(this.botUserId, { id: this.botUserId, username: appName, global_name: null, avatar: null });
    this.users.set(this.ownerId, { id: this.ownerId, username: 'guildowner', global_name: 'Guild Owner' });

    this.roles.set(opts.guildId, {
      id: opts.guildId, name: '@everyone', position: 0, permissions: EVERYONE_PERMISSIONS, managed: false,
    });
    for (const role of opts.roles) {
      this.roles.set(role.id, {
        id: role.id, name: role.name, position: role.position, permissions: BigInt(role.permissions ?? '0'),
        managed: false,
      });
    }
    const topGiven = Math.max(0, ...opts.roles.map((r) => r.position));
    this.roles.set(this.botRoleId, {
      id: this.botRoleId,
      name: appName,
      position: opts.botRolePosition ?? topGiven + 1,
      permissions: BOT_ROLE_BASE_PERMISSIONS | ((opts.botCanManageRoles ?? true) ? MANAGE_ROLES : 0n),
      managed: true,
      tags: { bot_id: this.botUserId },
    });

    const joinedAt = discordTimestamp(this.clock.now());
    this.members.set(this.ownerId, { roles: [], joinedAt, nick: null });
    if (this.botInGuild) this.members.set(this.botUserId, { roles: [this.botRoleId], joinedAt, nick: null });

    this.routes = [
      { method: 'POST', pattern: '/oauth2/token', handle: (c) => this.exchangeToken(c) },
      { method: 'POST', pattern: '/oauth2/token/revoke', handle: (c) => this.revokeToken(c) },
      { method: 'GET', pattern: '/oauth2/@me', handle: (c) => this.currentAuthorization(c) },
      { method: 'GET', pattern: '/users/@me', handle: (c) => this.currentUser(c) },
      { method: 'GET', pattern: '/users/:user', handle: (c) => this.getUser(c) },
      { method: 'GET', pattern: '/gateway', handle: () => ({ status: 200, body: { url: this.gatewayUrl } }) },
      { method: 'GET', pattern: '/gateway/bot', handle: (c) => this.gatewayBot(c) },
      { method: 'GET', pattern: '/guilds/:guild', handle: (c) => this.getGuild(c) },
      { method: 'GET', pattern: '/guilds/:guild/roles', handle: (c) => this.getRoles(c) },
      { method: 'GET', pattern: '/guilds/:guild/members', handle: (c) => this.listMembers(c) },
      { method: 'GET', pattern: '/guilds/:guild/members/:user', handle: (c) => this.getMember(c) },
      { method: 'PUT', pattern: '/guilds/:guild/members/:user', handle: (c) => this.addMember(c) },
      { method: 'PATCH', pattern: '/guilds/:guild/members/:user', handle: (c) => this.modifyMember(c) },
      { method: 'PUT', pattern: '/guilds/:guild/members/:user/roles/:role', handle: (c) => this.changeRole(c, 'add') },
      {
        method: 'DELETE', pattern: '/guilds/:guild/members/:user/roles/:role',
        handle: (c) => this.changeRole(c, 'remove'),
      },
    ];
    this.rateLimiter = new RateLimiter(this.routes.map(routeKey), opts.rateLimits);

    this.server = createServer((req, res) => {
      this.handleHttp(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`fake discord crashed: ${String(error)}`);
      });
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.url}/api`;
    this.authorizeUrl = `${this.url}/oauth2/authorize`;
    this.gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
  }

  get gatewayIdentifies(): number {
    return this.identifies.length;
  }

  get gatewayConnections(): number {
    let open = 0;
    for (const conn of this.connections) if (conn.ws.readyState === WebSocket.OPEN) open++;
    return open;
  }

  // ---- test controls ----

  addUser(user: FakeUser): void {
    this.users.set(user.id, { ...user });
  }

  signIn(userId: string): void {
    if (!this.users.has(userId)) throw new Error(`fake discord: no user ${userId}; addUser() first`);
    this.signedIn = userId;
  }

  denyNextConsent(): void {
    this.denyNext = true;
  }

  memberJoins(userId: string, roles: string[] = []): void {
    if (!this.users.has(userId)) throw new Error(`fake discord: no user ${userId}; addUser() first`);
    if (this.members.has(userId)) throw new Error(`fake discord: ${userId} is already a member`);
    this.assertRolesExist(roles);
    const state: MemberState = { roles: [], joinedAt: discordTimestamp(this.clock.now()), nick: null };
    this.members.set(userId, state);
    this.applyRoles(userId, state, roles.filter((r) => r !== this.opts.guildId), 'hand', undefined);
    this.broadcast('GUILD_MEMBER_ADD', { ...this.memberJson(userId, state), guild_id: this.opts.guildId },
      INTENT_GUILD_MEMBERS);
  }

  memberLeaves(userId: string): void {
    if (!this.members.delete(userId)) throw new Error(`fake discord: ${userId} is not a member`);
    this.broadcast('GUILD_MEMBER_REMOVE', { guild_id: this.opts.guildId, user: this.userJson(userId) },
      INTENT_GUILD_MEMBERS);
  }

  setMemberRoles(userId: string, roles: string[]): void {
    const state = this.members.get(userId);
    if (!state) throw new Error(`fake discord: ${userId} is not a member`);
    this.assertRolesExist(roles);
    if (this.applyRoles(userId, state, roles.filter((r) => r !== this.opts.guildId), 'hand', undefined)) {
      this.dispatchMemberUpdate(userId, state);
    }
  }

  memberIds(): string[] {
    return [...this.members.keys()];
  }

  member(userId: string): { roles: string[]; joinedAt: string } | undefined {
    const state = this.members.get(userId);
    return state && { roles: [...state.roles], joinedAt: state.joinedAt };
  }

  user(userId: string): FakeUser | undefined {
    const user = this.users.get(userId);
    return user && { ...user };
  }

  guildRoles(): { id: string; name: string; position: number; managed: boolean }[] {
    return this.sortedRoles().reverse().map(({ id, name, position, managed }) => ({ id, name, position, managed }));
  }

  setBotPermissions(opts: { canManageRoles?: boolean; rolePosition?: number }): void {
    const role = this.botRole();
    if (opts.canManageRoles !== undefined) {
      role.permissions = opts.canManageRoles ? role.permissions | MANAGE_ROLES : role.permissions & ~MANAGE_ROLES;
    }
    if (opts.rolePosition !== undefined) role.position = opts.rolePosition;
    this.broadcast('GUILD_ROLE_UPDATE', { guild_id: this.opts.guildId, role: this.roleJson(role) }, INTENT_GUILDS);
  }

  addFault(fault: Fault): void {
    this.faults.push({ fault, remaining: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  setRateLimits(limits: RateLimitOptions): void {
    this.rateLimiter.configure(limits);
  }

  rateLimitStats(): RateLimitStats {
    return {
      tooManyRequests: { ...this.tooManyRequests },
      invalidRequests: this.invalidRequests,
      global: this.rateLimiter.globalStats(),
      buckets: this.rateLimiter.bucketStats(),
    };
  }

  disconnectGateway(opts: { code?: number; invalidate?: boolean } = {}): void {
    if (opts.invalidate) this.sessions.clear();
    for (const conn of this.connections) conn.ws.close(opts.code ?? 4000, 'Disconnected by the test');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const conn of this.connections) this.dropConnection(conn, true);
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP ----

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    const record: RecordedRequest = {
      method, path: url.pathname, query: url.search.slice(1), headers: { ...req.headers }, body, status: 0,
      at: this.clock.now().getTime(),
    };
    this.requests.push(record);
    res.on('finish', () => { record.status = res.statusCode; });

    const apiPath = /^\/api(?:\/v(?:9|10))?(\/.*)$/.exec(url.pathname)?.[1];
    const taken = this.takeFault(method, apiPath ?? url.pathname);
    if (taken?.delayMs) await this.sleep(taken.delayMs);
    const fault = taken?.status === undefined ? undefined : taken;
    if (apiPath !== undefined) {
      this.writeResult(res, this.handleApi(req, method, apiPath, url.searchParams, body, fault));
      return;
    }
    if (fault) {
      this.writeResult(res, this.faultResult(fault, NO_BUCKET));
      return;
    }
    if (url.pathname === '/oauth2/authorize' && method === 'GET') {
      this.authorize(url.searchParams, res);
      return;
    }
    if (url.pathname === '/oauth2/authorize' && method === 'POST') {
      this.consentAnswer(new URLSearchParams(body), res);
      return;
    }
    this.sendHtml(res, 404, htmlPage('Not Found', '<h1>404: Not Found</h1>'));
  }

  /** Counts the 429s by scope, and the answers Discord's invalid request limit counts. */
  private countRateLimitAnswer(result: ApiResult): void {
    if (result.status === 429) {
      const header = Object.entries(result.headers ?? {}).find(([name]) => name.toLowerCase() === 'x-ratelimit-scope')?.[1];
      const scope: RateLimitScope = header === 'global' || header === 'shared' ? header : 'user';
      this.tooManyRequests[scope] += 1;
      if (scope !== 'shared') this.invalidRequests += 1;
    } else if (result.status === 401 || result.status === 403) {
      this.invalidRequests += 1;
    }
  }

  private sleep(ms: number): Promise<void> {
    // If close() clears the timer, the request simply never gets an answer; its socket is destroyed anyway.
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const index = this.faults.findIndex(({ fault }) =>
      (fault.method === undefined || fault.method.toUpperCase() === method) &&
      (fault.path === undefined || (typeof fault.path === 'string' ? fault.path === path : fault.path.test(path))));
    const active = this.faults[index];
    if (!active) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) this.faults.splice(index, 1);
    return active.fault;
  }

  /** A fault's answer; `rate` is the admission of its request, whose bucket headers it keeps unless it is a 429. */
  private faultResult(fault: Fault, rate: Admission): ApiResult {
    if (fault.status === 429) {
      const retryAfter = fault.retryAfter ?? 1;
      const answer = tooManyRequests(retryAfter, fault.global ? 'global' : 'user', {
        ...(rate.limit === undefined ? {} : { 'X-RateLimit-Limit': String(rate.limit) }),
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': ((Date.now() + retryAfter * 1000) / 1000).toFixed(3),
        'X-RateLimit-Reset-After': retryAfter.toFixed(3),
      }, String(retryAfter));
      return { ...answer, body: fault.body ?? answer.body, headers: { ...answer.headers, ...fault.headers } };
    }
    const status = fault.status ?? 500;
    const body = fault.body ?? (status === 204 ? undefined : defaultFaultBody(status));
    return { status, body, headers: { ...rate.headers, ...fault.headers } };
  }

  private writeResult(res: ServerResponse, result: ApiResult): void {
    this.countRateLimitAnswer(result);
    const headers: Record<string, string> = { ...result.headers };
    if (result.status === 204 || result.body === undefined) {
      res.writeHead(result.status, headers);
      res.end();
      return;
    }
    const isText = typeof result.body === 'string';
    const payload = isText ? (result.body as string) : discordJson(result.body);
    headers['Content-Type'] ??= isText && payload.trimStart().startsWith('<') ? 'text/html' : 'application/json';
    res.writeHead(result.status, headers);
    res.end(payload);
  }

  private sendHtml(res: ServerResponse, status: number, html: string): void {
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  }

  private redirect(res: ServerResponse, location: string): void {
    res.writeHead(302, { Location: location });
    res.end();
  }

  private handleApi(req: IncomingMessage, method: string, path: string, query: URLSearchParams, body: string,
    fault: Fault | undefined): ApiResult {
    const segments = path.split('/').filter(Boolean);
    const matches = this.routes.flatMap((route) => {
      const params = matchPattern(route.pattern, segments);
      return params ? [{ route, params }] : [];
    });
    const match = matches.find(({ route }) => route.method === method);
    const holder = this.rateHolder(req);
    const rate = this.rateLimiter.admit({
      holder,
      global: holder === 'bot',
      route: match && routeKey(match.route),
      major: match?.params.guild ?? '',
      refusable: fault === undefined,
    }, Date.now());
    if (fault) return this.faultResult(fault, rate);
    if (rate.refused) {
      const { scope, retryAfterMs } = rate.refused;
      return tooManyRequests(retryAfterMs / 1000, scope, rate.headers);
    }
    if (!match) return matches.length > 0 ? apiError(405, 0, '405: Method Not Allowed') : apiError(404, 0, '404: Not Found');
    const { route, params } = match;
    const result = formErrors(Object.fromEntries(Object.entries(params).map(([name, value]) =>
      [`${name}_id`, name === 'user' && value === '@me' ? undefined : snowflakeProblem(value)])))
      ?? route.handle({ req, method, params, query, body });
    return { ...result, headers: { ...rate.headers, ...result.headers } };
  }

  /** Whose limits a request counts against: the bot, an OAuth user, or (anything else) the caller's IP. */
  private rateHolder(req: IncomingMessage): string {
    const authorization = req.headers.authorization;
    if (authorization === `Bot ${this.opts.botToken}`) return 'bot';
    const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const grant = bearer === undefined ? undefined : this.tokens.get(bearer);
    return grant && !grant.revoked ? `user:${grant.userId}` : 'anonymous';
  }

  // ---- OAuth2 ----

  private authorize(params: URLSearchParams, res: ServerResponse): void {
    const fail = (message: string): void =>
      this.sendHtml(res, 400, htmlPage('Discord | Error', `<h1>Invalid OAuth2 request</h1><p>${escapeHtml(message)}</p>`));
    if (params.get('client_id') !== this.opts.clientId) return fail('Unknown application: invalid client_id.');
    const redirectUri = params.get('redirect_uri') ?? '';
    if (!URL.canParse(redirectUri) || (this.opts.redirectUris && !this.opts.redirectUris.includes(redirectUri))) {
      return fail('Invalid OAuth2 redirect_uri.');
    }
    if (params.get('response_type') !== 'code') return fail('Invalid response_type: only "code" is supported.');
    const scopes = (params.get('scope') ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0) return fail('No scope was requested.');
    const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s));
    if (unknown.length > 0) return fail(`Invalid scope: ${unknown.join(', ')}.`);
    const chooser = this.opts.accountChooser === true;
    if (this.signedIn === undefined && !chooser) {
      return fail('Nobody is signed in to Discord (the test did not call signIn()).');
    }
    const request: PendingConsent = {
      userId: chooser ? undefined : this.signedIn, scopes, redirectUri, state: params.get('state') ?? undefined,
    };
    if (this.denyNext) {
      this.denyNext = false;
      return this.redirect(res, this.deniedRedirect(request));
    }
    const before = request.userId === undefined ? undefined : this.authorized.get(request.userId);
    const consentedBefore = params.get('prompt') === 'none' && scopes.every((s) => before?.has(s));
    if (!chooser && ((this.opts.consent ?? 'auto') === 'auto' || consentedBefore)) {
      return this.redirect(res, this.grantRedirect(request, request.userId as string));
    }
    const id = randomAlnum(32);
    this.pendingConsents.set(id, request);
    this.sendHtml(res, 200, this.consentPage(id, request));
  }

  private consentPage(id: string, request: PendingConsent, problem?: string): string {
    const appName = this.opts.applicationName ?? 'Arbiter';
    const items = request.scopes.map((s) => `<li>${escapeHtml(SCOPE_TEXT[s] ?? s)}</li>`).join('');
    const displayName = (user: FakeUser) => user.global_name ?? user.username;
    let who: string;
    if (this.opts.accountChooser) {
      const choices = this.choosableUsers().map((user) => `
  <p><label><input type="radio" name="user_id" value="${escapeHtml(user.id)}" required${user.id === this.signedIn ? ' checked' : ''}>
    ${escapeHtml(displayName(user))} <small>@${escapeHtml(user.username)}</small></label></p>`).join('');
      who = `<fieldset><legend>Sign in as</legend>${choices}
</fieldset>`;
    } else {
      const user = this.users.get(request.userId ?? '');
      who = `<p>Signed in as <strong>${escapeHtml(user ? displayName(user) : request.userId ?? '')}</strong></p>`;
    }
    return htmlPage('Discord | Authorize access to your account', `
<h1>${escapeHtml(appName)} wants to access your account</h1>${problem ? `\n<p role="alert">${escapeHtml(problem)}</p>` : ''}
<form method="post" action="/oauth2/authorize">
${who}
<p>This will allow the developer of ${escapeHtml(appName)} to:</p>
<ul>${items}</ul>
  <input type="hidden" name="request_id" value="${id}">
  <button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
  <button type="submit" name="action" value="authorize">Authorize</button>
</form>`);
  }

  /** Who the account chooser offers: everyone added, in the order added. */
  private choosableUsers(): FakeUser[] {
    return [...this.users.values()].filter((user) => user.id !== this.botUserId && user.id !== this.ownerId);
  }

  private consentAnswer(form: URLSearchParams, res: ServerResponse): void {
    const id = form.get('request_id') ?? '';
    const request = this.pendingConsents.get(id);
    if (!request) {
      this.sendHtml(res, 400, htmlPage('Discord | Error', '<h1>This authorization request is no longer valid.</h1>'));
      return;
    }
    if (form.get('action') !== 'authorize') {
      this.pendingConsents.delete(id);
      return this.redirect(res, this.deniedRedirect(request));
    }
    let userId = request.userId;
    if (this.opts.accountChooser) {
      const chosen = form.get('user_id') ?? '';
      if (!this.choosableUsers().some((user) => user.id === chosen)) {
        return this.sendHtml(res, 400, this.consentPage(id, request, 'Choose the account to sign in with.'));
      }
      userId = chosen;
    }
    this.pendingConsents.delete(id);
    this.redirect(res, this.grantRedirect(request, userId as string));
  }

  private grantRedirect(request: PendingConsent, userId: string): string {
    const code = randomAlnum(30);
    this.codes.set(code, {
      userId, scopes: request.scopes, redirectUri: request.redirectUri,
      expiresAt: this.clock.now().getTime() + CODE_TTL_MS, used: false,
    });
    const before = this.authorized.get(userId) ?? new Set<string>();
    for (const scope of request.scopes) before.add(scope);
    this.authorized.set(userId, before);
    return withQuery(request.redirectUri, { code, state: request.state });
  }

  private deniedRedirect(request: PendingConsent): string {
    return withQuery(request.redirectUri, {
      error: 'access_denied',
      error_description: 'The resource owner or authorization server denied the request',
      state: request.state,
    });
  }

  /** Client authentication on the token endpoints: HTTP Basic, or client_id + client_secret in the form. */
  private clientAuthenticated(ctx: ApiContext, form: URLSearchParams): boolean {
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic\s+(.+)$/i.exec(ctx.req.headers.authorization ?? '')?.[1];
    if (basic) {
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    return id === this.opts.clientId && secret === this.opts.clientSecret;
  }

  /** Discord reads only form bodies here; anything else looks like a missing grant_type to it. */
  private formBody(ctx: ApiContext): URLSearchParams | undefined {
    const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    return type === 'application/x-www-form-urlencoded' ? new URLSearchParams(ctx.body) : undefined;
  }

  private exchangeToken(ctx: ApiContext): ApiResult {
    const form = this.formBody(ctx);
    const grantType = form?.get('grant_type') ?? null;
    const result = ((): ApiResult => {
      if (!form || (grantType !== 'authorization_code' && grantType !== 'refresh_token' && grantType !== 'client_credentials')) {
        return oauthError(400, 'unsupported_grant_type', `Grant type ${grantType ?? 'None'} is not supported`);
      }
      if (!this.clientAuthenticated(ctx, form)) return oauthError(401, 'invalid_client');
      if (grantType === 'refresh_token') return this.refreshGrant(form);
      if (grantType === 'client_credentials') return this.clientCredentialsGrant(form);
      const code = form.get('code');
      if (!code) return oauthError(400, 'invalid_request', 'Missing "code" in request.');
      const redirectUri = form.get('redirect_uri');
      if (!redirectUri) return oauthError(400, 'invalid_request', 'Missing "redirect_uri" in request.');
      const grant = this.codes.get(code);
      if (!grant || grant.used || grant.expiresAt <= this.clock.now().getTime()) {
        return oauthError(400, 'invalid_grant', 'Invalid "code" in request.');
      }
      if (grant.redirectUri !== redirectUri) {
        return oauthError(400, 'invalid_grant', 'Invalid "redirect_uri" in request.');
      }
      grant.used = true;
      return { status: 200, body: this.issueTokens(grant.userId, grant.scopes) };
    })();
    return { ...result, headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...result.headers } };
  }

  private refreshGrant(form: URLSearchParams): ApiResult {
    const old = this.refreshTokens.get(form.get('refresh_token') ?? '');
    if (!old || old.revoked) return oauthError(400, 'invalid_grant', 'Invalid "refresh_token" in request.');
    this.revokeGrant(old);
    return { status: 200, body: this.issueTokens(old.userId, old.scopes) };
  }

  /**
   * The application's own token: Discord issues it for the application's owner (here the server's owner), with no
   * refresh token.
   */
  private clientCredentialsGrant(form: URLSearchParams): ApiResult {
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0 || scopes.some((s) => !KNOWN_SCOPES.has(s))) {
      return oauthError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
    }
    const { refresh_token: refreshToken, ...body } = this.issueTokens(this.ownerId, scopes);
    this.refreshTokens.delete(refreshToken as string);
    return { status: 200, body };
  }

  private issueTokens(userId: string, scopes: string[]): Record<string, unknown> {
    const grant: TokenGrant = {
      userId, scopes, accessToken: randomAlnum(30), refreshToken: randomAlnum(30),
      expiresAt: this.clock.now().getTime() + TOKEN_TTL_S * 1000, revoked: false,
    };
    this.tokens.set(grant.accessToken, grant);
    this.refreshTokens.set(grant.refreshToken, grant);
    return {
      token_type: 'Bearer', access_token: grant.accessToken, expires_in: TOKEN_TTL_S,
      refresh_token: grant.refreshToken, scope: scopes.join(' '),
    };
  }

  private revokeGrant(grant: TokenGrant): void {
    grant.revoked = true;
    this.tokens.delete(grant.accessToken);
    this.refreshTokens.delete(grant.refreshToken);
  }

  private revokeToken(ctx: ApiContext): ApiResult {
    const form = this.formBody(ctx);
    if (!form) return oauthError(400, 'unsupported_grant_type', 'Grant type None is not supported');
    if (!this.clientAuthenticated(ctx, form)) return oauthError(401, 'invalid_client');
    const token = form.get('token');
    if (!token) return oauthError(400, 'invalid_request', 'Missing "token" in request.');
    // Revoking either token ends the whole authorization; unknown tokens are fine (RFC 7009).
    const grant = this.tokens.get(token) ?? this.refreshTokens.get(token);
    if (grant) this.revokeGrant(grant);
    return { status: 200, body: {} };
  }

  private bearerGrant(ctx: ApiContext): TokenGrant | undefined {
    const token = /^Bearer (.+)$/.exec(ctx.req.headers.authorization ?? '')?.[1];
    const grant = token === undefined ? undefined : this.tokens.get(token);
    if (!grant || grant.revoked || grant.expiresAt <= this.clock.now().getTime()) return undefined;
    return grant;
  }

  private isBot(ctx: ApiContext): boolean {
    return ctx.req.headers.authorization === `Bot ${this.opts.botToken}`;
  }

  private currentAuthorization(ctx: ApiContext): ApiResult {
    const grant = this.bearerGrant(ctx);
    if (!grant) return unauthorized();
    return {
      status: 200,
      body: {
        application: { id: this.opts.clientId, name: this.opts.applicationName ?? 'Arbiter', icon: null,
          description: '', bot_public: false, bot_require_code_grant: false, verify_key: 'f'.repeat(64), flags: 0 },
        scopes: grant.scopes,
        expires: new Date(grant.expiresAt).toISOString(),
        ...(grant.scopes.includes('identify') ? { user: this.userJson(grant.userId) } : {}),
      },
    };
  }

  private currentUser(ctx: ApiContext): ApiResult {
    if (this.isBot(ctx)) {
      return {
        status: 200,
        body: { ...this.userJson(this.botUserId), verified: true, mfa_enabled: false, email: null, locale: 'en-US' },
      };
    }
    const grant = this.bearerGrant(ctx);
    if (!grant || !grant.scopes.includes('identify')) return unauthorized();
    const user = this.users.get(grant.userId);
    const body: Record<string, unknown> = {
      ...this.userJson(grant.userId), mfa_enabled: false, locale: 'en-US', premium_type: 0,
    };
    if (grant.scopes.includes('email')) {
      body.email = user?.email === undefined ? `${user?.username ?? grant.userId}@example.com` : user.email;
      body.verified = true;
    }
    return { status: 200, body };
  }

  private getUser(ctx: ApiContext): ApiResult {
    if (!this.isBot(ctx)) return unauthorized();
    const id = ctx.params.user ?? '';
    return this.users.has(id) ? { status: 200, body: this.userJson(id) } : apiError(404, 10013, 'Unknown User');
  }

  private gatewayBot(ctx: ApiContext): ApiResult {
    if (!this.isBot(ctx)) return unauthorized();
    return {
      status: 200,
      body: {
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: {
          total: 1000, remaining: this.sessionStartRemaining, reset_after: 86_400_000, max_concurrency: 1,
        },
      },
    };
  }

  // ---- guild REST ----

  /** Auth and guild checks shared by the guild routes; undefined when the request may go on. */
  private guildDenied(ctx: ApiContext): ApiResult | undefined {
    if (!this.isBot(ctx)) return unauthorized();
    if (ctx.params.guild !== this.opts.guildId) return apiError(404, 10004, 'Unknown Guild');
    if (!this.botInGuild) return missingAccess();
    return undefined;
  }

  private getGuild(ctx: ApiContext): ApiResult {
    const denied = this.guildDenied(ctx);
    if (denied) return denied;
    const body: Record<string, unknown> = this.guildJson();
    if (ctx.query.get('with_counts') === 'true') {
      body.approximate_member_count = this.members.size;
      body.approximate_presence_count = 0;
    }
    return { status: 200, body };
  }

  private getRoles(ctx: ApiContext): ApiResult {
    return this.guildDenied(ctx) ?? { status: 200, body: this.sortedRoles().map((r) => this.roleJson(r)) };
  }

  private listMembers(ctx: ApiContext): ApiResult {
    const denied = this.guildDenied(ctx);
    if (denied) return denied;
    const limitText = ctx.query.get('limit') ?? '1';
    const after = ctx.query.get('after') ?? '0';
    const refused = formErrors({ limit: intProblem(limitText, 1, 1000), after: snowflakeProblem(after) });
    if (refused) return refused;
    const limit = Number(limitText);
    const page = [...this.members.keys()]
      .filter((id) => compareIds(id, after) > 0)
      .sort(compareIds)
      .slice(0, limit)
      .map((id) => this.memberJson(id, this.members.get(id) as MemberState));
    return { status: 200, body: page };
  }

  private getMember(ctx: ApiContext): ApiResult {
    const denied = this.guildDenied(ctx);
    if (denied) return denied;
    const userId = ctx.params.user === '@me' ? this.botUserId : ctx.params.user ?? '';
    const state = this.members.get(userId);
    return state ? { status: 200, body: this.memberJson(userId, state) } : unknownMember();
  }

  private addMember(ctx: ApiContext): ApiResult {
    const denied = this.guildDenied(ctx);
    if (denied) return denied;
    const userId = ctx.params.user ?? '';
    const parsed = parseJson(ctx.body);
    if ('error' in parsed) return parsed.error;
    const body = parsed.value;
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      return formError('access_token', 'BASE_TYPE_REQUIRED', 'This field is required');
    }
    const grant = this.tokens.get(body.access_token);
    if (!grant || grant.revoked || grant.expiresAt <= this.clock.now().getTime() || grant.userId !== userId ||
      !grant.scopes.includes('guilds.join')) {
      return invalidOAuthToken();
    }
    // Like Discord: an existing member is left exactly as is (roles and nick in the body are ignored).
    if (this.members.has(userId)) return { status: 204 };
    if ((this.botPermissions() & CREATE_INSTANT_INVITE) === 0n) return missingPermissions();
    const roles = body.roles === undefined ? [] : body.roles;
    if (!Array.isArray(roles) || !roles.every((r): r is string => typeof r === 'string')) {
      return formError('roles', 'BASE_TYPE_LIST', 'Must be a list.');
    }
    const wanted = roles.filter((r) => r !== this.opts.guildId);
    const refused = this.checkRoles(wanted);
    if (refused) return refused;
    const state: MemberState = {
      roles: [], joinedAt: discordTimestamp(this.clock.now()), nick: typeof body.nick === 'string' ? body.nick : null,
    };
    this.members.set(userId, state);
    this.applyRoles(userId, state, wanted, 'bot', auditReason(ctx));
    const member = this.memberJson(userId, state);
    this.broadcast('GUILD_MEMBER_ADD', { ...member, guild_id: this.opts.guildId }, INTENT_GUILD_MEMBERS);
    return { status: 201, body: member };
  }

  private modifyMember(ctx: ApiContext): ApiResult {
    const denied = this.guildDenied(ctx);
    if (denied) return denied;
    const userId = ctx.params.user === '@me' ? this.botUserId : ctx.params.user ?? '';
    const state = this.members.get(userId);
    if (!state) return unknownMember();
    const parsed = parseJson(ctx.body);
    if ('error' in parsed) return parsed.error;
    const body = parsed.value;
    let changed = false;
    if (body.roles !== undefined && body.roles !== null) {
      const roles = body.roles;
      if (!Array.isArray(roles) || !roles.every((r): r is string => typeof r === 'string')) {
        return formError('roles', 'BASE_TYPE_LIST', 'Must be a list.');
      }
      const wanted = [...new Set(roles.filter((r) => r !== this.opts.guildId))];
      const touched = [...wanted.filter((r) => !state.roles.includes(r)), ...state.roles.filter((r) => !wanted.includes(r))];
      const refused = this.checkRoles(touched);
      if (refused) return refused;
      changed = this.applyRoles(userId, state, wanted, 'bot', auditReason(ctx));
    }
    if ('nick' in body && (typeof body.nick === 'string' || body.nick === null) && body.nick !== state.nick) {
      state.nick = body.nick === '' ? null : body.nick;
      changed = true;
    }
    if (changed) this.dispatchMemberUpdate(userId, state);
    return { status: 200, body: this.memberJson(userId, state) };
  }

  private changeRole(ctx: ApiContext, action: 'add' | 'remove'): ApiResult {
    const denied = this.guildDenied(ctx);
    if (denied) return denied;
    const userId = ctx.params.user ?? '';
    const roleId = ctx.params.role ?? '';
    const state = this.members.get(userId);
    if (!state) return unknownMember();
    if (!this.roles.has(roleId)) return unknownRole();
    const refused = this.checkRoles([roleId]);
    if (refused) return refused;
    if (roleId === this.opts.guildId) return { status: 204 }; // everyone holds @everyone implicitly
    const next = action === 'add'
      ? (state.roles.includes(roleId) ? state.roles : [...state.roles, roleId])
      : state.roles.filter((r) => r !== roleId);
    if (this.applyRoles(userId, state, next, 'bot', auditReason(ctx))) this.dispatchMemberUpdate(userId, state);
    return { status: 204 };
  }

  /** Discord's rules for a bot giving or taking roles: they must exist, the bot needs MANAGE_ROLES, and each
   *  role must sit strictly below the bot's highest role. */
  private checkRoles(roleIds: string[]): ApiResult | undefined {
    if (roleIds.some((r) => !this.roles.has(r))) return unknownRole();
    if (roleIds.length === 0) return undefined;
    const perms = this.botPermissions();
    if ((perms & MANAGE_ROLES) === 0n && (perms & ADMINISTRATOR) === 0n) return missingPermissions();
    const top = this.botTopPosition();
    if (roleIds.some((r) => (this.roles.get(r)?.position ?? 0) >= top)) return missingPermissions();
    return undefined;
  }

  private botPermissions(): bigint {
    let perms = this.roles.get(this.opts.guildId)?.permissions ?? 0n;
    for (const id of this.members.get(this.botUserId)?.roles ?? []) perms |= this.roles.get(id)?.permissions ?? 0n;
    return perms;
  }

  private botTopPosition(): number {
    const positions = (this.members.get(this.botUserId)?.roles ?? []).map((id) => this.roles.get(id)?.position ?? 0);
    return Math.max(0, ...positions);
  }

  private botRole(): RoleState {
    return this.roles.get(this.botRoleId) as RoleState;
  }

  private assertRolesExist(roles: string[]): void {
    const unknown = roles.filter((r) => !this.roles.has(r));
    if (unknown.length > 0) throw new Error(`fake discord: unknown role(s) ${unknown.join(', ')}`);
  }

  /** Sets a member's roles, records each difference, and says whether anything changed. */
  private applyRoles(userId: string, state: MemberState, roles: string[], by: 'bot' | 'hand',
    reason: string | undefined): boolean {
    const next = [...new Set(roles)];
    const at = this.clock.now().getTime();
    const added = next.filter((r) => !state.roles.includes(r));
    const removed = state.roles.filter((r) => !next.includes(r));
    for (const roleId of added) this.roleChanges.push({ userId, roleId, action: 'add', by, reason, at });
    for (const roleId of removed) this.roleChanges.push({ userId, roleId, action: 'remove', by, reason, at });
    state.roles = next;
    return added.length + removed.length > 0;
  }

  // ---- JSON shapes ----

  private snowflake(): string {
    this.snowflakeIncrement = (this.snowflakeIncrement + 1) & 0xfff;
    const ms = BigInt(this.clock.now().getTime());
    return (((ms - DISCORD_EPOCH) << 22n) | (1n << 17n) | (1n << 12n) | BigInt(this.snowflakeIncrement)).toString();
  }

  private userJson(userId: string): Record<string, unknown> {
    const user = this.users.get(userId) ?? { id: userId, username: `user${userId}` };
    const bot = userId === this.botUserId;
    return {
      id: user.id, username: user.username, avatar: user.avatar ?? null, discriminator: bot ? '0000' : '0',
      public_flags: 0, flags: 0, banner: null, accent_color: null, global_name: user.global_name ?? null,
      avatar_decoration_data: null, collectibles: null, banner_color: null, clan: null, primary_guild: null,
      ...(bot ? { bot: true } : {}),
    };
  }

  private roleJson(role: RoleState): Record<string, unknown> {
    return {
      id: role.id, name: role.name, description: null, color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null }, hoist: false, icon: null,
      unicode_emoji: null, position: role.position, permissions: role.permissions.toString(), managed: role.managed,
      mentionable: false, flags: 0, ...(role.tags ? { tags: role.tags } : {}),
    };
  }

  private sortedRoles(): RoleState[] {
    return [...this.roles.values()].sort((a, b) => a.position - b.position || compareIds(a.id, b.id));
  }

  private memberJson(userId: string, state: MemberState): Record<string, unknown> {
    return {
      avatar: null, banner: null, communication_disabled_until: null, flags: 0, joined_at: state.joinedAt,
      nick: state.nick, pending: false, premium_since: null, roles: [...state.roles], unusual_dm_activity_until: null,
      collectibles: null, user: this.userJson(userId), mute: false, deaf: false, avatar_decoration_data: null,
    };
  }

  private guildJson(): Record<string, unknown> {
    return {
      id: this.opts.guildId, name: this.opts.guildName ?? 'Arbiter Test Server', icon: null, description: null,
      home_header: null, splash: null, discovery_splash: null, features: [], banner: null, owner_id: this.ownerId,
      application_id: null, region: 'deprecated', afk_channel_id: null, afk_timeout: 300, system_channel_id: null,
      system_channel_flags: 0, widget_enabled: false, widget_channel_id: null, verification_level: 0,
      roles: this.sortedRoles().map((r) => this.roleJson(r)), default_message_notifications: 0, mfa_level: 0,
      explicit_content_filter: 0, max_presences: null, max_members: 500000, max_stage_video_channel_users: 50,
      max_video_channel_users: 25, vanity_url_code: null, premium_tier: 0, premium_subscription_count: 0,
      preferred_locale: 'en-US', rules_channel_id: null, safety_alerts_channel_id: null,
      public_updates_channel_id: null, hub_type: null, premium_progress_bar_enabled: false,
      latest_onboarding_question_id: null, nsfw: false, nsfw_level: 0, emojis: [], stickers: [],
      incidents_data: null, inventory_settings: null, embed_enabled: false, embed_channel_id: null,
    };
  }

  private guildCreateJson(intents: number): Record<string, unknown> {
    // Without GUILD_PRESENCES, Discord sends only the bot's own member (and voice members) here.
    const memberIds = (intents & INTENT_GUILD_PRESENCES) !== 0 ? [...this.members.keys()] : [this.botUserId];
    return {
      ...this.guildJson(),
      joined_at: this.members.get(this.botUserId)?.joinedAt ?? discordTimestamp(this.clock.now()),
      large: false, unavailable: false, member_count: this.members.size, lazy: true,
      members: memberIds.flatMap((id) => {
        const state = this.members.get(id);
        return state ? [this.memberJson(id, state)] : [];
      }),
      channels: [], threads: [], presences: [], voice_states: [], stage_instances: [], guild_scheduled_events: [],
      soundboard_sounds: [], embedded_activities: [], activity_instances: [], application_command_counts: {},
    };
  }

  // ---- gateway ----

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: RecordedRequest = {
      method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), headers: { ...req.headers },
      body: '', status: 101, at: this.clock.now().getTime(),
    };
    this.requests.push(record);
    if (this.closed || (url.pathname !== '/gateway' && url.pathname !== '/gateway/')) {
      record.status = 404;
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, url.searchParams));
  }

  private onConnection(ws: WebSocket, query: URLSearchParams): void {
    const conn: Connection = {
      ws, session: null, zlib: null, payloadCompress: false, timers: new Set(), heartbeatDeadline: null,
      sendChain: Promise.resolve(),
    };
    this.connections.add(conn);
    ws.on('close', (code: number) => this.onConnectionClosed(conn, code));
    ws.on('error', () => this.dropConnection(conn, true));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(conn, data, isBinary));

    const version = query.get('v');
    if (version !== '10' && version !== '9') return ws.close(4012, 'Invalid API version');
    if ((query.get('encoding') ?? 'json') !== 'json') return ws.close(4002, 'Error while decoding payload.');
    const compress = query.get('compress');
    if (compress === 'zlib-stream') {
      conn.zlib = createDeflate();
      conn.zlib.on('error', () => conn.ws.terminate()); // e.g. closed mid-flush when the socket went away
    } else if (compress !== null) return ws.close(4000, `Unsupported compression: ${compress}`);

    this.send(conn, { op: 10, d: { heartbeat_interval: this.heartbeatInterval, _trace: ['["fake-gateway",{}]'] }, s: null, t: null });
    this.armHeartbeatDeadline(conn);
  }

  /** Discord drops connections that stop heartbeating; allow two intervals and a second of slack. */
  private armHeartbeatDeadline(conn: Connection): void {
    if (conn.heartbeatDeadline) this.clearConnTimer(conn, conn.heartbeatDeadline);
    conn.heartbeatDeadline = this.connTimer(conn, this.heartbeatInterval * 2 + 1000, () => {
      conn.ws.close(4009, 'Session timed out.');
    });
  }

  private connTimer(conn: Connection, ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      conn.timers.delete(timer);
      fn();
    }, ms);
    conn.timers.add(timer);
    return timer;
  }

  private clearConnTimer(conn: Connection, timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    conn.timers.delete(timer);
  }

  private onConnectionClosed(conn: Connection, code: number): void {
    const session = conn.session;
    this.dropConnection(conn, false);
    // A client closing with 1000/1001 ends its session; any other close keeps it resumable.
    if (session && (code === 1000 || code === 1001)) this.sessions.delete(session.id);
  }

  private dropConnection(conn: Connection, terminate: boolean): void {
    for (const timer of conn.timers) clearTimeout(timer);
    conn.timers.clear();
    conn.zlib?.close();
    conn.zlib = null;
    if (conn.session?.conn === conn) conn.session.conn = null;
    this.connections.delete(conn);
    if (terminate) conn.ws.terminate();
  }

  private send(conn: Connection, payload: GatewayPayload): void {
    const text = JSON.stringify(payload);
    const { ws, zlib } = conn;
    if (zlib) {
      // zlib-stream: one deflate context for the whole connection, each message ends with a Z_SYNC_FLUSH
      // (00 00 ff ff), in order.
      conn.sendChain = conn.sendChain.then(() => new Promise<void>((resolve) => {
        const chunks: Buffer[] = [];
        const onData = (chunk: Buffer): void => { chunks.push(chunk); };
        zlib.on('data', onData);
        zlib.write(text);
        zlib.flush(zlibConstants.Z_SYNC_FLUSH, () => {
          zlib.off('data', onData);
          if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat(chunks), { binary: true });
          resolve();
        });
      }));
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    if (conn.payloadCompress && payload.op === 0) ws.send(deflateSync(text), { binary: true });
    else ws.send(text);
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    let payload: unknown;
    try {
      if (isBinary) throw new Error('binary frames are not JSON');
      payload = JSON.parse(rawToString(data));
    } catch {
      conn.ws.close(4002, 'Error while decoding payload.');
      return;
    }
    if (!isRecord(payload) || typeof payload.op !== 'number') {
      conn.ws.close(4002, 'Error while decoding payload.');
      return;
    }
    const d = payload.d;
    switch (payload.op) {
      case 1:
        this.armHeartbeatDeadline(conn);
        this.send(conn, { op: 11, d: null, s: null, t: null });
        return;
      case 2:
        return this.identify(conn, d);
      case 6:
        return this.resume(conn, d);
      case 3:
      case 4:
        if (!conn.session) conn.ws.close(4003, 'Not authenticated.');
        return; // presence and voice state updates change nothing here
      case 8:
        if (!conn.session) return conn.ws.close(4003, 'Not authenticated.');
        return this.requestMembers(conn.session, d);
      default:
        conn.ws.close(4001, 'Unknown opcode.');
    }
  }

  private tokenMatches(token: unknown): boolean {
    return token === this.opts.botToken || token === `Bot ${this.opts.botToken}`;
  }

  private identify(conn: Connection, d: unknown): void {
    if (conn.session) return conn.ws.close(4005, 'Already authenticated.');
    if (!isRecord(d)) return conn.ws.close(4002, 'Error while decoding payload.');
    if (!this.tokenMatches(d.token)) return conn.ws.close(4004, 'Authentication failed.');
    const intents = d.intents;
    if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0 || intents >= 1 << 26) {
      return conn.ws.close(4013, 'Invalid intent(s).');
    }
    let shard: [number, number] = [0, 1];
    if (d.shard !== undefined) {
      const [id, count]: unknown[] = Array.isArray(d.shard) ? d.shard : [];
      if (typeof id !== 'number' || typeof count !== 'number' || count < 1 || id < 0 || id >= count) {
        return conn.ws.close(4010, 'Invalid shard.');
      }
      shard = [id, count];
    }
    if (!conn.zlib && d.compress === true) conn.payloadCompress = true;
    this.identifies.push({
      intents, shard, compress: conn.zlib ? 'zlib-stream' : conn.payloadCompress ? 'payload' : 'none',
      at: this.clock.now().getTime(),
    });
    this.sessionStartRemaining = Math.max(0, this.sessionStartRemaining - 1);

    const session: Session = {
      id: randomBytes(16).toString('hex'), intents, shard, seq: 0, backlog: [], conn,
    };
    this.sessions.set(session.id, session);
    conn.session = session;
    const ours = this.botInGuild && this.onShard(session);
    this.dispatch(session, 'READY', {
      v: 10,
      user_settings: {},
      user: { ...this.userJson(this.botUserId), verified: true, mfa_enabled: false, email: null },
      guilds: ours ? [{ id: this.opts.guildId, unavailable: true }] : [],
      guild_join_requests: [],
      relationships: [],
      private_channels: [],
      presences: [],
      sessions: [],
      session_id: session.id,
      session_type: 'normal',
      auth_session_id_hash: randomBytes(16).toString('base64'),
      resume_gateway_url: this.gatewayUrl,
      shard,
      application: { id: this.opts.clientId, flags: 1 << 15 }, // GATEWAY_GUILD_MEMBERS_LIMITED
      geo_ordered_rtc_regions: ['local'],
      _trace: ['["fake-gateway",{}]'],
    });
    // The guilds listed as unavailable in READY follow as GUILD_CREATE (only with the GUILDS intent).
    if (ours && (intents & INTENT_GUILDS) !== 0) this.dispatch(session, 'GUILD_CREATE', this.guildCreateJson(intents));
  }

  private resume(conn: Connection, d: unknown): void {
    if (conn.session) return conn.ws.close(4005, 'Already authenticated.');
    if (!isRecord(d)) return conn.ws.close(4002, 'Error while decoding payload.');
    if (!this.tokenMatches(d.token)) return conn.ws.close(4004, 'Authentication failed.');
    const session = typeof d.session_id === 'string' ? this.sessions.get(d.session_id) : undefined;
    const seq = typeof d.seq === 'number' ? d.seq : -1;
    const first = session?.backlog[0]?.s ?? 1;
    if (!session || seq < first - 1 || seq > session.seq) {
      this.send(conn, { op: 9, d: false, s: null, t: null });
      return;
    }
    if (session.conn && session.conn !== conn) {
      const old = session.conn;
      this.dropConnection(old, false);
      old.ws.close(4000, 'Session resumed elsewhere');
    }
    this.gatewayResumes += 1;
    session.conn = conn;
    conn.session = session;
    for (const payload of session.backlog) if ((payload.s ?? 0) > seq) this.send(conn, payload);
    this.dispatch(session, 'RESUMED', { _trace: ['["fake-gateway",{}]'] });
  }

  private requestMembers(session: Session, d: unknown): void {
    if (!isRecord(d) || d.guild_id !== this.opts.guildId || !this.botInGuild) return;
    const userIds: string[] | undefined = Array.isArray(d.user_ids) ? d.user_ids.map(String)
      : typeof d.user_ids === 'string' ? [d.user_ids] : undefined;
    const query = typeof d.query === 'string' ? d.query : undefined;
    const limit = typeof d.limit === 'number' ? d.limit : 0;
    // The whole member list needs GUILD_MEMBERS; without it Discord silently sends nothing.
    const wantsAll = userIds === undefined && (query ?? '') === '';
    if (wantsAll && (session.intents & INTENT_GUILD_MEMBERS) === 0) return;
    let ids: string[];
    let notFound: string[] | undefined;
    if (userIds) {
      ids = userIds.filter((id) => this.members.has(id)).slice(0, 100);
      notFound = userIds.filter((id) => !this.members.has(id));
    } else {
      const prefix = (query ?? '').toLowerCase();
      ids = [...this.members.keys()].filter((id) => {
        const user = this.users.get(id);
        const nick = this.members.get(id)?.nick ?? '';
        return (user?.username ?? '').toLowerCase().startsWith(prefix) || nick.toLowerCase().startsWith(prefix);
      });
      const max = wantsAll ? (limit > 0 ? limit : Infinity) : Math.min(limit > 0 ? limit : 100, 100);
      ids = ids.slice(0, max);
    }
    const chunkCount = Math.max(1, Math.ceil(ids.length / 1000));
    for (let index = 0; index < chunkCount; index++) {
      this.dispatch(session, 'GUILD_MEMBERS_CHUNK', {
        guild_id: this.opts.guildId,
        members: ids.slice(index * 1000, (index + 1) * 1000).map((id) => this.memberJson(id, this.members.get(id) as MemberState)),
        chunk_index: index,
        chunk_count: chunkCount,
        ...(notFound && index === 0 ? { not_found: notFound } : {}),
        ...(typeof d.nonce === 'string' ? { nonce: d.nonce } : {}),
        ...(d.presences === true ? { presences: [] } : {}),
      });
    }
  }

  private onShard(session: Session): boolean {
    const [id, count] = session.shard;
    if (count === 1 || !isSnowflake(this.opts.guildId)) return id === 0;
    return Number((BigInt(this.opts.guildId) >> 22n) % BigInt(count)) === id;
  }

  /** Numbers the event, keeps it for RESUME, and sends it if the session is connected. */
  private dispatch(session: Session, t: string, d: unknown): void {
    session.seq += 1;
    const payload: GatewayPayload = { op: 0, t, s: session.seq, d };
    session.backlog.push(payload);
    if (session.backlog.length > BACKLOG) session.backlog.shift();
    if (session.conn) this.send(session.conn, payload);
  }

  /** Sends a guild event to every session (connected or waiting to resume) that asked for it. */
  private broadcast(t: string, d: unknown, intent: number, evenWithoutIntent = false): void {
    if (!this.botInGuild) return;
    for (const session of this.sessions.values()) {
      if (!this.onShard(session)) continue;
      if ((session.intents & intent) === 0 && !evenWithoutIntent) continue;
      this.dispatch(session, t, d);
    }
  }

  private dispatchMemberUpdate(userId: string, state: MemberState): void {
    const { roles, user, nick, avatar, banner, joined_at, premium_since, deaf, mute, pending, flags,
      communication_disabled_until, avatar_decoration_data, collectibles } = this.memberJson(userId, state);
    // The bot's own member updates arrive even without GUILD_MEMBERS.
    this.broadcast('GUILD_MEMBER_UPDATE', {
      guild_id: this.opts.guildId, roles, user, nick, avatar, banner, joined_at, premium_since, deaf, mute, pending,
      flags, communication_disabled_until, avatar_decoration_data, collectibles,
    }, INTENT_GUILD_MEMBERS, userId === this.botUserId);
  }
}

function routeKey(route: Route): string {
  return `${route.method} ${route.pattern}`;
}

function matchPattern(pattern: string, segments: string[]): Record<string, string> | undefined {
  const parts = pattern.split('/').filter(Boolean);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    // Discord decodes path segments: discord.js asks for /users/%40me.
    let segment = segments[i] ?? '';
    try {
      segment = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (part.startsWith(':')) params[part.slice(1)] = segment;
    else if (part !== segment) return undefined;
  }
  return params;
}

function parseJson(body: string): { value: Record<string, unknown> } | { error: ApiResult } {
  if (body.trim() === '') return { value: {} };
  try {
    const value: unknown = JSON.parse(body);
    if (isRecord(value)) return { value };
    return { error: apiError(400, 50035, 'Invalid Form Body', { _errors: [{ code: 'DICT_TYPE_CONVERT', message: 'Only dictionaries may be used in a DictType' }] }) };
  } catch {
    return { error: apiError(400, 50109, 'The request body contains invalid JSON.') };
  }
}

function auditReason(ctx: ApiContext): string | undefined {
  const raw = ctx.req.headers['x-audit-log-reason'];
  if (typeof raw !== 'string') return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

export async function startFakeDiscord(opts: FakeDiscordOptions): Promise<FakeDiscord> {
  const fake = new FakeDiscordServer(opts);
  await fake.listen();
  return fake;
}
