/**
 * oidc-provider's storage on Arbiter's own database (table oidc_store): sessions, grants, codes, tokens and
 * interactions survive a restart, and an authorization code is spent once whatever happens in between.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Clock } from '../../clock.js';
import type { Db } from '../../db/open.js';

interface Row {
  payload: string;
  consumed_at: string | null;
}

/** `reused` makes the error for a second spending of a code (oidc-provider's invalid_grant, given by the caller). */
export function sqliteAdapter(db: Db, clock: Clock, reused: (model: string) => Error = (model) => new Error(`${model} already consumed`)): (model: string) => Adapter {
  const upsert = db.prepare(`INSERT INTO oidc_store (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at)
    VALUES (@model, @id, @payload, @grantId, @userCode, @uid, @expiresAt, NULL)
    ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
      user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`);
  const live = `(expires_at IS NULL OR expires_at > @now)`;
  const find = db.prepare(`SELECT payload, consumed_at FROM oidc_store WHERE model = @model AND id = @id AND ${live}`);
  const byUid = db.prepare(`SELECT payload, consumed_at FROM oidc_store WHERE model = @model AND uid = @key AND ${live} LIMIT 1`);
  const byUserCode = db.prepare(`SELECT payload, consumed_at FROM oidc_store WHERE model = @model AND user_code = @key AND ${live} LIMIT 1`);
  // Only the first of two concurrent exchanges of one code changes the row: the other is refused.
  const consume = db.prepare(`UPDATE oidc_store SET consumed_at = @at WHERE model = @model AND id = @id AND consumed_at IS NULL`);
  const grantOf = db.prepare(`SELECT grant_id FROM oidc_store WHERE model = @model AND id = @id`).pluck();
  const destroy = db.prepare(`DELETE FROM oidc_store WHERE model = @model AND id = @id`);
  const revoke = db.prepare(`DELETE FROM oidc_store WHERE grant_id = @grantId`);

  const read = (row: Row | undefined): AdapterPayload | undefined => {
    if (!row) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at) payload.consumed = Math.floor(Date.parse(row.consumed_at) / 1000);
    return payload;
  };
  const now = () => clock.now().toISOString();

  return (model) => ({
    async upsert(id, payload, expiresIn) {
      upsert.run({
        model,
        id,
        payload: JSON.stringify(payload),
        grantId: payload.grantId ?? null,
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expiresAt: typeof expiresIn === 'number' ? new Date(clock.now().getTime() + expiresIn * 1000).toISOString() : null,
      });
    },
    async find(id) {
      return read(find.get({ model, id, now: now() }) as Row | undefined);
    },
    async findByUid(uid) {
      return read(byUid.get({ model, key: uid, now: now() }) as Row | undefined);
    },
    async findByUserCode(userCode) {
      return read(byUserCode.get({ model, key: userCode, now: now() }) as Row | undefined);
    },
    async consume(id) {
      if (consume.run({ model, id, at: now() }).changes === 0) {
        const grantId = grantOf.get({ model, id }) as string | null | undefined;
        if (grantId) revoke.run({ grantId });
        throw reused(model);
      }
    },
    async destroy(id) {
      destroy.run({ model, id });
    },
    async revokeByGrantId(grantId) {
      revoke.run({ grantId });
    },
  });
}
