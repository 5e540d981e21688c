/**
 * Discord's REST rate limits for the Discord stand-in: fixed windows that open with the first request, one bucket
 * per route (or per named group of routes), counted separately per holder (the bot, each OAuth user, anonymous
 * callers) and per major parameter (the guild); and a global limit on everything the bot sends.
 *
 * Windows run on the real clock, because clients wait on it.
 */
import { createHash } from 'node:crypto';

export interface RouteRateLimit {
  /** Requests per window. Default: `perRoute`. */
  limit?: number;
  /** Default: `windowMs`. */
  windowMs?: number;
  /** Routes that give the same name share one bucket (one X-RateLimit-Bucket, one count), as Discord groups
   *  similar routes. They must then have the same limit and window. Default: a bucket of the route's own. */
  bucket?: string;
}
export interface RateLimitOptions {
  /** Requests per bucket, holder and major parameter per window, for routes without their own rule. Default 1000. */
  perRoute?: number;
  /** Length of a bucket's window in ms; it opens with the first request. Default 1000. */
  windowMs?: number;
  /** Requests the bot token may make per global window, all routes together. Default Infinity (no global limit). */
  global?: number;
  /** Default 1000, like Discord's per-second global limit. */
  globalWindowMs?: number;
  /** Rules per route, keyed "METHOD /pattern" as the stand-in names its routes,
   *  e.g. "PUT /guilds/:guild/members/:user/roles/:role". */
  routes?: Record<string, RouteRateLimit>;
}
export type RateLimitScope = 'user' | 'global' | 'shared';
export interface RateLimitBucketStats {
  /** The bucket's X-RateLimit-Bucket. */
  bucket: string;
  /** The routes ("METHOD /pattern") that counted against it, in the order first seen. */
  routes: string[];
  /** The major parameter: the guild id, or '' for routes without one. */
  major: string;
  /** Whose bucket: 'bot', `user:<id>` for OAuth bearer tokens, 'anonymous' for everything else (by IP). */
  holder: string;
  /** Requests counted against it, the refused ones included. */
  requests: number;
  /** Requests it refused with a 429. */
  refused: number;
}
export interface RateLimitRequest {
  holder: string;
  /** Counted against the bot's global limit. */
  global: boolean;
  /** "METHOD /pattern", or undefined when no route matched (only the global limit applies). */
  route: string | undefined;
  major: string;
  /** False: count the request but never refuse it (it gets another answer anyway). */
  refusable: boolean;
}
export interface Admission {
  /** The route bucket's X-RateLimit-* headers, for the answer (empty without a route). */
  headers: Record<string, string>;
  /** The bucket's limit, when there is a bucket. */
  limit: number | undefined;
  /** Set when the request must be answered with a 429. */
  refused?: { scope: 'user' | 'global'; retryAfterMs: number };
}

interface Window {
  count: number;
  resetAt: number;
}
interface Rule {
  limit: number;
  windowMs: number;
  hash: string;
}

const DEFAULTS = { perRoute: 1000, windowMs: 1000, global: Infinity, globalWindowMs: 1000 };

function bucketHash(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 32);
}

function positiveInteger(value: number, what: string, infinityAllowed = false): void {
  if (!(Number.isInteger(value) && value > 0) && !(infinityAllowed && value === Infinity)) {
    throw new Error(`fake discord: rate limit ${what} must be a positive integer${infinityAllowed ? ' or Infinity' : ''}, got ${value}`);
  }
}

export class RateLimiter {
  private options: Required<RateLimitOptions> = { ...DEFAULTS, routes: {} };
  private rules = new Map<string, Rule>();
  private readonly windows = new Map<string, Window>();
  private globalWindow: Window | undefined;
  private readonly stats = new Map<string, RateLimitBucketStats>();
  private globalRequests = 0;
  private globalRefused = 0;

  /** routeKeys: every "METHOD /pattern" the stand-in serves, to catch misspelt rules. */
  constructor(private readonly routeKeys: readonly string[], options: RateLimitOptions = {}) {
    this.configure(options);
  }

  /** Merges `patch` into the settings (`routes` key by key) and starts every window afresh. */
  configure(patch: RateLimitOptions): void {
    const next: Required<RateLimitOptions> = {
      ...this.options,
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
      routes: { ...this.options.routes, ...patch.routes },
    };
    positiveInteger(next.perRoute, 'perRoute');
    positiveInteger(next.windowMs, 'windowMs');
    positiveInteger(next.global, 'global', true);
    positiveInteger(next.globalWindowMs, 'globalWindowMs');
    const rules = new Map<string, Rule>();
    const shared = new Map<string, { limit: number; windowMs: number }>();
    for (const key of this.routeKeys) {
      const rule = next.routes[key] ?? {};
      const limit = rule.limit ?? next.perRoute;
      const windowMs = rule.windowMs ?? next.windowMs;
      positiveInteger(limit, `limit of "${key}"`);
      positiveInteger(windowMs, `windowMs of "${key}"`);
      if (rule.bucket !== undefined) {
        const other = shared.get(rule.bucket);
        if (other && (other.limit !== limit || other.windowMs !== windowMs)) {
          throw new Error(`fake discord: the routes of bucket "${rule.bucket}" need the same limit and window`);
        }
        shared.set(rule.bucket, { limit, windowMs });
      }
      rules.set(key, { limit, windowMs, hash: bucketHash(rule.bucket === undefined ? key : `bucket ${rule.bucket}`) });
    }
    const unknown = Object.keys(next.routes).filter((key) => !rules.has(key));
    if (unknown.length > 0) throw new Error(`fake discord: rate limit for unknown route "${unknown.join('", "')}"`);
    this.options = next;
    this.rules = rules;
    this.windows.clear();
    this.globalWindow = undefined;
  }

  /** Counts a request against the global limit (for the bot) and then its route's bucket. A request the global
   *  limit refuses does not reach the bucket. */
  admit(request: RateLimitRequest, now: number): Admission {
    if (request.global) {
      this.globalRequests += 1;
      this.globalWindow = this.current(this.globalWindow, this.options.globalWindowMs, now);
      if (this.globalWindow.count >= this.options.global && request.refusable) {
        this.globalRefused += 1;
        return { headers: {}, limit: undefined, refused: { scope: 'global', retryAfterMs: this.globalWindow.resetAt - now } };
      }
      this.globalWindow.count += 1;
    }
    const rule = request.route === undefined ? undefined : this.rules.get(request.route);
    if (request.route === undefined || rule === undefined) return { headers: {}, limit: undefined };

    const key = `${request.holder} ${rule.hash} ${request.major}`;
    const window = this.current(this.windows.get(key), rule.windowMs, now);
    this.windows.set(key, window);
    const stats = this.stats.get(key) ??
      { bucket: rule.hash, routes: [], major: request.major, holder: request.holder, requests: 0, refused: 0 };
    this.stats.set(key, stats);
    if (!stats.routes.includes(request.route)) stats.routes.push(request.route);
    stats.requests += 1;
    const refused = window.count >= rule.limit && request.refusable;
    if (refused) stats.refused += 1;
    else window.count += 1;
    const headers = {
      'X-RateLimit-Limit': String(rule.limit),
      'X-RateLimit-Remaining': String(Math.max(0, rule.limit - window.count)),
      'X-RateLimit-Reset': (window.resetAt / 1000).toFixed(3),
      'X-RateLimit-Reset-After': ((window.resetAt - now) / 1000).toFixed(3),
      'X-RateLimit-Bucket': rule.hash,
    };
    return refused
      ? { headers, limit: rule.limit, refused: { scope: 'user', retryAfterMs: window.resetAt - now } }
      : { headers, limit: rule.limit };
  }

  bucketStats(): RateLimitBucketStats[] {
    return [...this.stats.values()].map((s) => ({ ...s, routes: [...s.routes] }));
  }

  globalStats(): { requests: number; refused: number } {
    return { requests: this.globalRequests, refused: this.globalRefused };
  }

  /** The window `now` falls in: the given one, or a new one opening now. */
  private current(window: Window | undefined, windowMs: number, now: number): Window {
    return window && now < window.resetAt ? window : { count: 0, resetAt: now + windowMs };
  }
}
