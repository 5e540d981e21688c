/**
 * Numbered migrations, applied in order at start and recorded in schema_migrations. Never edit one that has
 * shipped: add the next number.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'webhooks, subscriptions, link tokens, jobs, audit log',
    sql: `
      CREATE TABLE webhook_events (
        id INTEGER PRIMARY KEY,
        delivery_id TEXT NOT NULL,
        dedupe TEXT NOT NULL CHECK (dedupe IN ('webhook-id', 'event-id', 'body-sha256')),
        scheme TEXT NOT NULL CHECK (scheme IN ('standard', 'legacy')),
        type TEXT,
        subscription_id TEXT,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL,
        occurred_at TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'stale', 'ignored', 'invalid')),
        errors TEXT
      );
      -- Deliveries named by an id are unique forever; body hashes only dedupe for 24 h (checked in code).
      CREATE UNIQUE INDEX webhook_events_delivery ON webhook_events (delivery_id) WHERE dedupe <> 'body-sha256';
      CREATE INDEX webhook_events_body ON webhook_events (delivery_id, received_at) WHERE dedupe = 'body-sha256';
      CREATE INDEX webhook_events_subscription ON webhook_events (subscription_id, received_at);

      CREATE TABLE subscriptions (
        subscription_id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        tier TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'cancelled')),
        discord_id TEXT,
        linked_at TEXT,
        last_event_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX subscriptions_email ON subscriptions (email COLLATE NOCASE);
      CREATE INDEX subscriptions_discord ON subscriptions (discord_id) WHERE discord_id IS NOT NULL;

      CREATE TABLE link_tokens (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        subscription_id TEXT NOT NULL REFERENCES subscriptions (subscription_id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        used_by TEXT,
        revoked_at TEXT
      );
      CREATE INDEX link_tokens_subscription ON link_tokens (subscription_id);

      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        run_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE UNIQUE INDEX jobs_one_pending ON jobs (kind, key) WHERE status = 'pending';
      CREATE INDEX jobs_due ON jobs (status, run_at);

      CREATE TABLE audit_logs (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        email TEXT,
        discord_id TEXT,
        subscription_id TEXT,
        role_id TEXT,
        reason TEXT,
        details TEXT
      );
      CREATE INDEX audit_logs_at ON audit_logs (at);
      CREATE INDEX audit_logs_discord ON audit_logs (discord_id) WHERE discord_id IS NOT NULL;
      CREATE INDEX audit_logs_subscription ON audit_logs (subscription_id) WHERE subscription_id IS NOT NULL;
      CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
        BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END;
      CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
        BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END;
    `,
  },
  {
    version: 2,
    name: 'manual role grants and blocks',
    sql: `
      CREATE TABLE role_grants (
        id INTEGER PRIMARY KEY,
        discord_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('grant', 'block')),
        -- NULL with kind 'block': every managed role is withheld from this user.
        role_id TEXT,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        revoked_by TEXT,
        CHECK (kind = 'block' OR role_id IS NOT NULL)
      );
      CREATE INDEX role_grants_user ON role_grants (discord_id) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 3,
    name: 'refused webhook deliveries are evaluated again when retried; subscriptions keep their latest occurred_at',
    // SQLite changes a CHECK only by rebuilding the table; the indexes are made again on the new one.
    sql: `
      CREATE TABLE webhook_events_v3 (
        id INTEGER PRIMARY KEY,
        delivery_id TEXT NOT NULL,
        dedupe TEXT NOT NULL CHECK (dedupe IN ('webhook-id', 'event-id', 'body-sha256')),
        scheme TEXT NOT NULL CHECK (scheme IN ('standard', 'legacy')),
        type TEXT,
        subscription_id TEXT,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL,
        occurred_at TEXT,
        -- refused: signed and valid, but naming what the configuration does not know (a tier not in roles.json).
        outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'stale', 'ignored', 'invalid', 'refused')),
        errors TEXT
      );
      INSERT INTO webhook_events_v3 (id, delivery_id, dedupe, scheme, type, subscription_id, payload, received_at, occurred_at, outcome, errors)
        SELECT id, delivery_id, dedupe, scheme, type, subscription_id, payload, received_at, occurred_at, outcome, errors FROM webhook_events;
      DROP TABLE webhook_events;
      ALTER TABLE webhook_events_v3 RENAME TO webhook_events;
      -- A refused delivery may be sent again, and each attempt is kept: only the other outcomes claim its id.
      CREATE UNIQUE INDEX webhook_events_delivery ON webhook_events (delivery_id) WHERE dedupe <> 'body-sha256' AND outcome <> 'refused';
      CREATE INDEX webhook_events_body ON webhook_events (delivery_id, received_at) WHERE dedupe = 'body-sha256';
      CREATE INDEX webhook_events_subscription ON webhook_events (subscription_id, received_at);

      -- Only an event's occurred_at orders it; the webhook-timestamp or arrival kept in last_event_at may be a retry's.
      ALTER TABLE subscriptions ADD COLUMN last_occurred_at TEXT;
      UPDATE subscriptions SET last_occurred_at = (SELECT MAX(e.occurred_at) FROM webhook_events e
        WHERE e.subscription_id = subscriptions.subscription_id AND e.outcome = 'applied');
    `,
  },
  {
    version: 4,
    name: 'why a link token was revoked',
    sql: `
      -- 'replaced': a newer link was issued; 'inactive': the subscription stopped being active. NULL on rows revoked
      -- before this column existed, which were all replaced.
      ALTER TABLE link_tokens ADD COLUMN revoked_reason TEXT CHECK (revoked_reason IN ('replaced', 'inactive'));
    `,
  },
  {
    version: 5,
    name: 'jobs retry for a time budget, not a count; runs cut short by a crash are counted',
    sql: `
      CREATE TABLE jobs_new (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        interruptions INTEGER NOT NULL DEFAULT 0,
        run_at TEXT NOT NULL,
        give_up_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
      );
      INSERT INTO jobs_new (id, kind, key, payload, status, attempts, run_at, give_up_at, last_error, created_at, updated_at, finished_at)
        SELECT id, kind, key, payload, status, attempts, run_at,
          strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+3 days'), last_error, created_at, updated_at, finished_at
        FROM jobs;
      DROP TABLE jobs;
      ALTER TABLE jobs_new RENAME TO jobs;
      CREATE UNIQUE INDEX jobs_one_pending ON jobs (kind, key) WHERE status = 'pending';
      CREATE INDEX jobs_due ON jobs (status, run_at);
    `,
  },
  {
    version: 6,
    name: 'names of admins next to their IDs; the reason a grant was revoked; audit filters',
    sql: `
      ALTER TABLE audit_logs ADD COLUMN actor_name TEXT;
      ALTER TABLE role_grants ADD COLUMN created_by_name TEXT;
      ALTER TABLE role_grants ADD COLUMN revoked_by_name TEXT;
      ALTER TABLE role_grants ADD COLUMN revoke_reason TEXT;
      CREATE INDEX role_grants_expiry ON role_grants (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
      CREATE INDEX audit_logs_actor ON audit_logs (actor, id);
      CREATE INDEX audit_logs_action ON audit_logs (action, id);
      CREATE INDEX audit_logs_email ON audit_logs (email COLLATE NOCASE, id) WHERE email IS NOT NULL;
      CREATE INDEX webhook_events_outcome ON webhook_events (outcome, id);
    `,
  },
  {
    version: 7,
    name: "the audit log filtered by an admin's name",
    sql: `
      -- Only admins' rows carry a name; ending in id keeps each name's rows in page order.
      CREATE INDEX audit_logs_actor_name ON audit_logs (actor_name COLLATE NOCASE, id) WHERE actor_name IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'retention: when a delivery payload was removed; finding old deliveries and finished jobs',
    sql: `
      -- Set when the payload (and its errors, which may quote it) was replaced by '{}': older than RETENTION_DAYS, or
      -- the subscriber was erased. The row itself stays: its delivery_id keeps deduplicating.
      ALTER TABLE webhook_events ADD COLUMN pruned_at TEXT;
      CREATE INDEX webhook_events_unpruned ON webhook_events (received_at) WHERE pruned_at IS NULL;
      CREATE INDEX jobs_finished ON jobs (status, finished_at);
    `,
  },
  {
    version: 9,
    name: 'finding the next job of a kind without reading the jobs of other kinds',
    sql: `
      CREATE INDEX jobs_pending_kind ON jobs (kind, run_at) WHERE status = 'pending';
    `,
  },
  {
    version: 10,
    name: "a person's whole history of grants and blocks",
    sql: `
      -- role_grants_user holds only grants in force; the member page lists revoked ones too, which was a pass over the
      -- whole table. Ending in id keeps each person's rows newest first without a sort.
      CREATE INDEX role_grants_history ON role_grants (discord_id, id);
    `,
  },
  {
    version: 11,
    name: 'API keys for /api/v1, stored only as their SHA-256',
    sql: `
      CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        key_hash TEXT NOT NULL UNIQUE,
        scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
      );
    `,
  },
  {
    version: 12,
    name: 'OpenID Connect provider state: sessions, grants, codes, tokens, interactions',
    sql: `
      -- One table for every kind of oidc-provider state (model); payload is the provider's own JSON. expires_at and
      -- consumed_at are ISO times; the daily prune removes rows past expires_at.
      CREATE TABLE oidc_store (
        model TEXT NOT NULL,
        id TEXT NOT NULL,
        payload TEXT NOT NULL,
        grant_id TEXT,
        user_code TEXT,
        uid TEXT,
        expires_at TEXT,
        consumed_at TEXT,
        PRIMARY KEY (model, id)
      );
      CREATE INDEX oidc_store_grant ON oidc_store (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oidc_store_uid ON oidc_store (model, uid) WHERE uid IS NOT NULL;
      CREATE INDEX oidc_store_user_code ON oidc_store (model, user_code) WHERE user_code IS NOT NULL;
      CREATE INDEX oidc_store_expiry ON oidc_store (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 13,
    name: 'the admin search by part of an email or name through a trigram index',
    sql: `
      -- A search for part of an email or name read every subscription (seconds at a million). A trigram index finds
      -- the rows holding a piece of text of three characters or more. Its rowid is a key of our own, an INTEGER PRIMARY
      -- KEY, because VACUUM may renumber the rowids of a table keyed by text. Contentless: the text is not kept twice.
      CREATE TABLE subscription_text_keys (id INTEGER PRIMARY KEY, subscription_id TEXT NOT NULL UNIQUE);
      CREATE VIRTUAL TABLE subscription_text USING fts5(email, name, content = '', contentless_delete = 1,
        tokenize = 'trigram remove_diacritics 1');
      INSERT INTO subscription_text_keys (subscription_id) SELECT subscription_id FROM subscriptions ORDER BY rowid;
      INSERT INTO subscription_text (rowid, email, name)
        SELECT k.id, s.email, s.name FROM subscriptions s JOIN subscription_text_keys k USING (subscription_id);
      CREATE TRIGGER subscription_text_insert AFTER INSERT ON subscriptions BEGIN
        INSERT OR IGNORE INTO subscription_text_keys (subscription_id) VALUES (new.subscription_id);
        INSERT INTO subscription_text (rowid, email, name)
          VALUES ((SELECT id FROM subscription_text_keys WHERE subscription_id = new.subscription_id), new.email, new.name);
      END;
      CREATE TRIGGER subscription_text_update AFTER UPDATE OF email, name ON subscriptions
        WHEN old.email IS NOT new.email OR old.name IS NOT new.name BEGIN
        DELETE FROM subscription_text WHERE rowid = (SELECT id FROM subscription_text_keys WHERE subscription_id = old.subscription_id);
        INSERT INTO subscription_text (rowid, email, name)
          VALUES ((SELECT id FROM subscription_text_keys WHERE subscription_id = new.subscription_id), new.email, new.name);
      END;
      CREATE TRIGGER subscription_text_delete AFTER DELETE ON subscriptions BEGIN
        DELETE FROM subscription_text WHERE rowid = (SELECT id FROM subscription_text_keys WHERE subscription_id = old.subscription_id);
        DELETE FROM subscription_text_keys WHERE subscription_id = old.subscription_id;
      END;
    `,
  },
];

