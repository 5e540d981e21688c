import type { Db } from '../db/open.js';

export type SubscriptionStatus = 'active' | 'suspended' | 'cancelled';

export interface Subscription {
  subscription_id: string;
  email: string;
  name: string;
  tier: string;
  status: SubscriptionStatus;
  discord_id: string | null;
  linked_at: string | null;
  /** When the last applied event happened, as far as known: its occurred_at, else its arrival. */
  last_event_at: string;
  /** The latest occurred_at of the applied events, which orders the next ones; null while none carried one. */
  last_occurred_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface SubscriptionStore {
  get(subscriptionId: string): Subscription | undefined;
  /** Creates or replaces the billing-side fields; keeps the Discord link. The order mark only moves forward. */
  save(s: Omit<Subscription, 'discord_id' | 'linked_at' | 'created_at' | 'last_occurred_at'> & { last_occurred_at?: string | null }): void;
  link(subscriptionId: string, discordId: string, at: string): void;
  /** Forgets the Discord account: the subscription waits for a link again. */
  unlink(subscriptionId: string, at: string): void;
  byDiscordId(discordId: string): Subscription[];
  byEmail(email: string): Subscription[];
  linkedDiscordIds(): string[];
  /**
   * Subscriptions whose ID or Discord ID is `query`, or whose email or name contains it (case-insensitive, also
   * beyond ASCII; from three characters on, accents are ignored too), most recently changed first.
   */
  search(query: string, limit: number): Subscription[];
  /** Active (linked and not yet), suspended and cancelled subscriptions. */
  counts(): { active: number; linked: number; unlinked: number; suspended: number; cancelled: number };
}

/** Case folding for search; SQLite's own LIKE and lower() fold ASCII only. */
export function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

export const SEARCH_INDEXED_SQL = `SELECT * FROM subscriptions
  WHERE subscription_id = @exact OR discord_id = @exact OR subscription_id IN (
    SELECT k.subscription_id FROM subscription_text t JOIN subscription_text_keys k ON k.id = t.rowid
    WHERE subscription_text MATCH @phrase)
  ORDER BY updated_at DESC LIMIT @limit`;

export function createSubscriptionStore(db: Db): SubscriptionStore {
  db.function('arbiter_fold', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? fold(value) : value));
  // Text of three characters or more is found through the trigram index (migration 13); shorter text is looked for
  // in every row, which is slow on a large database but rarely asked.
  const searchIndexed = db.prepare(SEARCH_INDEXED_SQL);
  const searchScan = db.prepare(`SELECT * FROM subscriptions
    WHERE subscription_id = @exact OR discord_id = @exact
      OR instr(arbiter_fold(email), @folded) > 0 OR instr(arbiter_fold(name), @folded) > 0
    ORDER BY updated_at DESC LIMIT @limit`);
  const get = db.prepare('SELECT * FROM subscriptions WHERE subscription_id = ?');
  const save = db.prepare(`INSERT INTO subscriptions
      (subscription_id, email, name, tier, status, last_event_at, last_occurred_at, created_at, updated_at)
    VALUES (@subscription_id, @email, @name, @tier, @status, @last_event_at, @last_occurred_at, @updated_at, @updated_at)
    ON CONFLICT (subscription_id) DO UPDATE SET email = excluded.email, name = excluded.name, tier = excluded.tier,
      status = excluded.status, last_event_at = excluded.last_event_at, updated_at = excluded.updated_at,
      last_occurred_at = CASE WHEN last_occurred_at IS NULL OR excluded.last_occurred_at > last_occurred_at
        THEN excluded.last_occurred_at ELSE last_occurred_at END`);
  const link = db.prepare('UPDATE subscriptions SET discord_id = ?, linked_at = ?, updated_at = ? WHERE subscription_id = ?');
  const unlink = db.prepare('UPDATE subscriptions SET discord_id = NULL, linked_at = NULL, updated_at = ? WHERE subscription_id = ?');
  const byDiscord = db.prepare('SELECT * FROM subscriptions WHERE discord_id = ? ORDER BY created_at');
  const byEmail = db.prepare('SELECT * FROM subscriptions WHERE email = ? COLLATE NOCASE ORDER BY created_at');
  const linked = db.prepare('SELECT DISTINCT discord_id FROM subscriptions WHERE discord_id IS NOT NULL ORDER BY discord_id').pluck();
  const counts = db.prepare(`SELECT
      COUNT(*) FILTER (WHERE status = 'active') AS active,
      COUNT(*) FILTER (WHERE status = 'active' AND discord_id IS NOT NULL) AS linked,
      COUNT(*) FILTER (WHERE status = 'active' AND discord_id IS NULL) AS unlinked,
      COUNT(*) FILTER (WHERE status = 'suspended') AS suspended,
      COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled
    FROM subscriptions`);
  return {
    get: (id) => get.get(id) as Subscription | undefined,
    save: (s) => void save.run({ last_occurred_at: null, ...s }),
    link: (id, discordId, at) => void link.run(discordId, at, at, id),
    unlink: (id, at) => void unlink.run(at, id),
    byDiscordId: (discordId) => byDiscord.all(discordId) as Subscription[],
    byEmail: (email) => byEmail.all(email) as Subscription[],
    linkedDiscordIds: () => linked.all() as string[],
    search: (query, limit) => ([...query].length >= 3
      ? searchIndexed.all({ exact: query, phrase: `"${query.replaceAll('"', '""')}"`, limit })
      : searchScan.all({ exact: query, folded: fold(query), limit })) as Subscription[],
    counts: () => counts.get() as ReturnType<SubscriptionStore['counts']>,
  };
}
