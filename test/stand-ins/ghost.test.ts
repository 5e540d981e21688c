import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import GhostAdminAPI from '@tryghost/admin-api';
import { startFakeGhost, type FakeGhost } from '../../stand-ins/ghost.js';

const clientFor = (fake: FakeGhost, extra: Partial<GhostAdminAPI.Options> = {}) =>
  new GhostAdminAPI({ url: fake.url, key: fake.adminKey, version: 'v6.0', ...extra });

/** A client whose every request carries `token` instead of the one it would sign. */
const clientWithToken = (fake: FakeGhost, token: string) => clientFor(fake, { generateToken: () => token });

function signJwt(header: object, payload: object, secretHex: string): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const data = `${encode(header)}.${encode(payload)}`;
  return `${data}.${createHmac('sha256', Buffer.from(secretHex, 'hex')).update(data).digest('base64url')}`;
}

/** A token as the client would sign it, with any header or claim overridden. */
function token(fake: FakeGhost, over: { header?: object; claims?: object; secret?: string } = {}): string {
  const [id = '', secret = ''] = fake.adminKey.split(':');
  const now = Math.floor(Date.now() / 1000);
  return signJwt(
    { alg: 'HS256', typ: 'JWT', kid: id, ...over.header },
    { iat: now, exp: now + 300, aud: '/admin/', ...over.claims },
    over.secret ?? secret,
  );
}

/** Asserts the promise rejects with the Ghost error the client builds from Ghost's error body. */
async function rejectsWithGhostError(promise: Promise<unknown>, expected: Partial<GhostAdminAPI.GhostError>) {
  await assert.rejects(promise, (err: GhostAdminAPI.GhostError) => {
    for (const [field, value] of Object.entries(expected)) assert.deepEqual(err[field as keyof GhostAdminAPI.GhostError], value, field);
    return true;
  });
}

const lastRequest = (fake: FakeGhost) => {
  const request = fake.requests.at(-1);
  assert.ok(request, 'a request was recorded');
  return request;
};

describe('fake Ghost Admin API, through @tryghost/admin-api', () => {
  let fake: FakeGhost;
  let api: GhostAdminAPI.Api;

  before(async () => {
    fake = await startFakeGhost();
    api = clientFor(fake);
  });
  after(() => fake.close());

  it('browses by email with an NQL filter, ignoring case, and records what the client sent', async () => {
    const ada = fake.addMember({ email: 'Ada@Example.com', name: 'Ada' });
    fake.addMember({ email: 'bob@example.com' });

    const found = await api.members.browse({ filter: "email:'ada@example.com'" });

    assert.equal(found.length, 1);
    assert.equal(found[0]?.id, ada.id);
    assert.deepEqual(found.meta.pagination, { page: 1, limit: 15, pages: 1, total: 1, next: null, prev: null });
    const request = lastRequest(fake);
    assert.equal(request.method, 'GET');
    assert.equal(request.path, '/ghost/api/admin/members/');
    // The client encodes with encodeURIComponent; axios's WHATWG URL then encodes the quotes too.
    assert.equal(request.query, 'filter=email%3A%27ada%40example.com%27');
    assert.equal(request.headers['accept-version'], 'v6.0');
    assert.match(String(request.headers.authorization), /^Ghost [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(request.status, 200);

    const none = await api.members.browse({ filter: "email:'nobody@example.com'" });
    assert.equal(none.length, 0);
    assert.equal(none.meta.pagination.total, 0);
  });

  it('pages with limit and page', async () => {
    const local = await startFakeGhost();
    try {
      for (let i = 0; i < 5; i++) local.addMember({ email: `m${i}@example.com` });
      const page2 = await clientFor(local).members.browse({ limit: 2, page: 2 });
      assert.deepEqual(page2.map((m) => m.email), ['m2@example.com', 'm1@example.com']); // newest first
      assert.deepEqual(page2.meta.pagination, { page: 2, limit: 2, pages: 3, total: 5, next: 3, prev: 1 });
    } finally {
      await local.close();
    }
  });

  it('reads a member by id, and answers 404 NotFoundError for an unknown id', async () => {
    const carol = fake.addMember({ email: 'carol@example.com', labels: ['VIP'] });

    const read = await api.members.read({ id: carol.id });
    assert.equal(read.email, 'carol@example.com');
    assert.deepEqual(read.labels.map((l) => [l.name, l.slug]), [['VIP', 'vip']]);
    assert.equal(lastRequest(fake).path, `/ghost/api/admin/members/${carol.id}/`);

    await rejectsWithGhostError(api.members.read({ id: '0123456789abcdef01234567' }), {
      name: 'NotFoundError',
      message: 'Resource not found error, cannot read member.',
      context: 'Member not found.',
    });
    assert.equal(lastRequest(fake).status, 404);
  });

  it('edits the note, and replaces labels given as names or objects, creating missing ones', async () => {
    const dave = fake.addMember({ email: 'dave@example.com', note: 'likes tea', labels: ['Old', 'vip'] });

    const edited = await api.members.edit({
      id: dave.id,
      note: 'likes tea\ndiscord_id: 123456789012345678',
      labels: ['discord', { name: 'VIP ' }],
    });

    assert.equal(edited.note, 'likes tea\ndiscord_id: 123456789012345678');
    // "VIP " matches the existing "VIP" label ignoring case and spaces; "Old" is gone; "discord" is new.
    assert.deepEqual(edited.labels.map((l) => l.name), ['discord', 'VIP']);
    assert.deepEqual(fake.member('DAVE@example.com')?.labels.map((l) => l.slug), ['discord', 'vip']);
    const request = lastRequest(fake);
    assert.equal(request.method, 'PUT');
    assert.deepEqual(JSON.parse(request.body), {
      members: [{ note: 'likes tea\ndiscord_id: 123456789012345678', labels: ['discord', { name: 'VIP ' }] }],
    });
  });

  it('drops unknown fields silently, as Ghost does, and refuses a bad note with 422', async () => {
    const erin = fake.addMember({ email: 'erin@example.com' });

    const edited = await api.members.edit({ id: erin.id, name: 'Erin', discord_id: '42', status: 'paid' });
    assert.equal(edited.name, 'Erin');
    assert.equal(edited.discord_id, undefined);
    assert.equal(edited.status, 'free');

    await rejectsWithGhostError(api.members.edit({ id: erin.id, note: 'x'.repeat(2001) }), {
      name: 'ValidationError',
      message: 'Validation error, cannot edit member.',
      context: 'Validation failed for note.',
      property: 'note',
    });
    assert.equal(lastRequest(fake).status, 422);
    const nullNote = { id: erin.id, note: null as unknown as string }; // Ghost refuses null: note must be a string
    await rejectsWithGhostError(api.members.edit(nullNote), { name: 'ValidationError', property: 'note' });
    assert.equal(fake.member('erin@example.com')?.note, null);

    await rejectsWithGhostError(api.members.edit({ id: '0123456789abcdef01234567', note: 'x' }), {
      name: 'NotFoundError',
      context: 'Could not find Member 0123456789abcdef01234567',
    });
  });

  it('adds a member with 201, and refuses a duplicate email whatever its case', async () => {
    const added = await api.members.add({ email: 'frank@example.com', name: 'Frank', labels: ['new'] });
    assert.equal(lastRequest(fake).status, 201);
    assert.match(added.id, /^[a-f\d]{24}$/);
    assert.equal(added.status, 'free');
    assert.deepEqual(fake.member('frank@example.com')?.labels.map((l) => l.name), ['new']);

    await rejectsWithGhostError(api.members.add({ email: 'FRANK@example.com' }), {
      name: 'ValidationError',
      message: 'Validation error, cannot save member.',
      context: 'Member already exists. Attempting to add member with existing email address',
      property: 'email',
    });
    assert.equal(lastRequest(fake).status, 422);
    await rejectsWithGhostError(api.members.add({ email: 'not-an-email' }), { name: 'ValidationError', context: 'Invalid Email' });
  });

  it('answers outages with Ghost error bodies: setDown and failNext', async () => {
    fake.setDown(true);
    await rejectsWithGhostError(api.members.browse(), { name: 'MaintenanceError' });
    assert.equal(lastRequest(fake).status, 503);
    fake.setDown(429);
    await rejectsWithGhostError(api.members.browse(), { name: 'TooManyRequestsError' });
    fake.setDown(false);

    fake.failNext(500, 2);
    await rejectsWithGhostError(api.members.browse(), { name: 'InternalServerError' });
    await rejectsWithGhostError(api.members.browse(), { name: 'InternalServerError' });
    await api.members.browse();
    assert.deepEqual(fake.requests.slice(-3).map((r) => r.status), [500, 500, 200]);
  });
});

describe('fake Ghost custom fields', () => {
  it('stores configured fields under custom_fields and refuses unknown ones', async () => {
    const fake = await startFakeGhost({ customFields: ['discord_id'] });
    try {
      const api = clientFor(fake);
      const gina = fake.addMember({ email: 'gina@example.com' });

      const edited = await api.members.edit({ id: gina.id, custom_fields: { discord_id: '123456789012345678' } });
      assert.deepEqual(edited.custom_fields, { discord_id: '123456789012345678' });
      assert.deepEqual((await api.members.read({ id: gina.id })).custom_fields, { discord_id: '123456789012345678' });
      // Browse only carries them when asked.
      assert.equal((await api.members.browse())[0]?.custom_fields, undefined);
      assert.deepEqual((await api.members.browse({ include: 'custom_fields' }))[0]?.custom_fields, { discord_id: '123456789012345678' });

      await rejectsWithGhostError(api.members.edit({ id: gina.id, custom_fields: { twitter: 'x' } }), {
        name: 'ValidationError',
        context: 'Unknown custom field: twitter',
        property: 'custom_fields.twitter',
      });
      await rejectsWithGhostError(api.members.add({ email: 'hal@example.com', custom_fields: { discord_id: '1' } }), { name: 'ValidationError', property: 'custom_fields' });

      const cleared = await api.members.edit({ id: gina.id, custom_fields: { discord_id: null } });
      assert.deepEqual(cleared.custom_fields, {});
    } finally {
      await fake.close();
    }
  });
});

describe('fake Ghost admin key authentication', () => {
  let fake: FakeGhost;
  let memberId: string;

  before(async () => {
    fake = await startFakeGhost();
    memberId = fake.addMember({ email: 'ivy@example.com' }).id;
  });
  after(() => fake.close());

  const refusals: [string, (f: FakeGhost) => string, Partial<GhostAdminAPI.GhostError>][] = [
    ['the wrong secret', (f) => token(f, { secret: randomBytes(32).toString('hex') }), { message: 'Invalid token: invalid signature', code: 'INVALID_JWT' }],
    ['an unknown kid', (f) => token(f, { header: { kid: randomBytes(12).toString('hex') } }), { message: 'Unknown Admin API Key', code: 'UNKNOWN_ADMIN_API_KEY' }],
    ['an expired token', (f) => token(f, { claims: { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 } }), { message: 'Invalid token: jwt expired' }],
    ['a token older than 5 minutes', (f) => token(f, { claims: { iat: Math.floor(Date.now() / 1000) - 301, exp: Math.floor(Date.now() / 1000) + 3600 } }), { message: 'Invalid token: maxAge exceeded' }],
    ['the wrong audience', (f) => token(f, { claims: { aud: '/content/' } }), { message: 'Invalid token: jwt audience invalid. expected: /\\/?admin\\/?$/' }],
    ['another algorithm', (f) => token(f, { header: { alg: 'HS512' } }), { message: 'Invalid token: invalid algorithm' }],
  ];
  for (const [what, makeToken, expected] of refusals) {
    it(`refuses ${what} with 401 UnauthorizedError`, async () => {
      await rejectsWithGhostError(clientWithToken(fake, makeToken(fake)).members.read({ id: memberId }), {
        name: 'UnauthorizedError',
        type: 'UnauthorizedError',
        context: null,
        ...expected,
      });
      assert.equal(lastRequest(fake).status, 401);
    });
  }

  it('accepts the audiences Ghost accepts', async () => {
    for (const aud of ['/admin/', '/v6/admin/', 'admin', ['/content/', '/admin/']]) {
      const read = await clientWithToken(fake, token(fake, { claims: { aud } })).members.read({ id: memberId });
      assert.equal(read.id, memberId);
    }
  });

  it('answers Ghost error bodies to raw requests: 400 for a token that is not a JWT, 403 with no header', async () => {
    const endpoint = `${fake.url}/ghost/api/admin/members/`;
    const garbage = await fetch(endpoint, { headers: { Authorization: 'Ghost not-a-jwt' } });
    assert.equal(garbage.status, 400);
    assert.equal(((await garbage.json()) as { errors: { message: string }[] }).errors[0]?.message, 'Invalid token');

    const badScheme = await fetch(endpoint, { headers: { Authorization: `Bearer ${token(fake)}` } });
    assert.equal(badScheme.status, 401);
    assert.equal(((await badScheme.json()) as { errors: { code: string }[] }).errors[0]?.code, 'INVALID_AUTH_HEADER');

    // Ghost lets a request without credentials through to its "who is this?" check: 403, not 401.
    const missing = await fetch(endpoint);
    assert.equal(missing.status, 403);
    const { errors } = (await missing.json()) as { errors: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(errors[0] ?? {}), ['message', 'context', 'type', 'details', 'property', 'help', 'code', 'id', 'ghostErrorCode']);
    assert.equal(errors[0]?.type, 'NoPermissionError');
    assert.equal(errors[0]?.message, 'Authorization failed');
  });

  it('stops listening on close()', async () => {
    const local = await startFakeGhost();
    await clientFor(local).members.browse();
    await local.close();
    await assert.rejects(fetch(`${local.url}/ghost/api/admin/members/`));
  });
});
