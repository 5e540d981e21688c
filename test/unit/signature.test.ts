import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webhookKey } from '../../src/config.js';
import { verifyLegacy, verifySignature, verifyStandard } from '../../src/webhooks/signature.js';
import { legacyHeaders, standardHeaders } from '../support/webhooks.js';

// The Standard Webhooks specification's own example.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const BODY = Buffer.from('{"test": 2432232314}');
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = new Date(TIMESTAMP * 1000);
const keys = [webhookKey(SECRET)];
const headers = (signature = SIGNATURE, timestamp = String(TIMESTAMP)) => ({
  'webhook-id': ID,
  'webhook-timestamp': timestamp,
  'webhook-signature': signature,
});

test('the Standard Webhooks known-answer vector verifies', () => {
  assert.deepEqual(verifyStandard(headers(), BODY, keys, AT), { ok: true, scheme: 'standard', webhookId: ID, timestamp: TIMESTAMP });
});

test('a timestamp more than 300 s old or ahead is refused as stale', () => {
  for (const offset of [-301, 301]) {
    const result = verifyStandard(headers(), BODY, keys, new Date((TIMESTAMP + offset) * 1000));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.code, 'webhook_stale');
  }
  for (const offset of [-300, 300]) assert.equal(verifyStandard(headers(), BODY, keys, new Date((TIMESTAMP + offset) * 1000)).ok, true);
});

test('one valid v1 signature among several is enough; v2 entries are ignored', () => {
  assert.equal(verifyStandard(headers(`v1,AAAA v2,whatever ${SIGNATURE}`), BODY, keys, AT).ok, true);
  const v2only = verifyStandard(headers(SIGNATURE.replace('v1,', 'v2,')), BODY, keys, AT);
  assert.equal(v2only.ok, false);
});

test('missing headers are unsigned; a non-numeric timestamp is malformed', () => {
  const missing = verifyStandard({ 'webhook-id': ID, 'webhook-timestamp': String(TIMESTAMP) }, BODY, keys, AT);
  assert.deepEqual(!missing.ok && [missing.status, missing.code], [401, 'webhook_unsigned']);
  const none = verifySignature({}, BODY, keys, AT);
  assert.deepEqual(!none.ok && [none.status, none.code], [401, 'webhook_unsigned']);
  const bad = verifyStandard(headers(SIGNATURE, '16142653x0'), BODY, keys, AT);
  assert.deepEqual(!bad.ok && [bad.status, bad.code], [400, 'webhook_malformed']);
});

test('one changed body byte, or the wrong secret, fails', () => {
  const changed = Buffer.from(BODY);
  changed[changed.length - 2] = changed[changed.length - 2]! ^ 1;
  assert.equal(verifyStandard(headers(), changed, keys, AT).ok, false);
  assert.equal(verifyStandard(headers(), BODY, [webhookKey('whsec_' + Buffer.alloc(24, 7).toString('base64'))], AT).ok, false);
});

test('rotation: any configured secret verifies', () => {
  const other = webhookKey('another-secret-of-enough-length');
  assert.equal(verifyStandard(headers(), BODY, [other, keys[0]!], AT).ok, true);
  assert.equal(verifyStandard(headers(), BODY, [other], AT).ok, false);
});

test('legacy hex signatures verify with and without sha256=, in either case', () => {
  const body = '{"event":"subscription.created"}';
  const secret = 'legacy-secret-of-enough-length';
  for (const prefix of [true, false]) {
    const h = legacyHeaders(secret, body, prefix);
    assert.equal(verifyLegacy(h, Buffer.from(body), [webhookKey(secret)]).ok, true);
    assert.equal(verifyLegacy({ 'x-signature': h['x-signature']!.toUpperCase().replace('SHA256=', 'sha256=') }, Buffer.from(body), [webhookKey(secret)]).ok, true);
  }
  assert.equal(verifyLegacy(legacyHeaders(secret, body), Buffer.from(body + ' '), [webhookKey(secret)]).ok, false);
  assert.equal(verifyLegacy({ 'x-signature': 'sha256=zz' }, Buffer.from(body), [webhookKey(secret)]).ok, false);
});

test('the test signer agrees with the verifier for both schemes', () => {
  const body = '{"a":1}';
  const h = standardHeaders(SECRET, body, { id: 'msg_1', timestamp: TIMESTAMP });
  assert.equal(verifySignature(h, Buffer.from(body), keys, AT).ok, true);
  assert.equal(verifySignature(legacyHeaders(SECRET, body), Buffer.from(body), keys, AT).ok, true);
});

test('several signatures: as separate headers, or folded into one line with ", ", one match is enough in any position', () => {
  const wrong = `v1,${Buffer.alloc(32, 9).toString('base64')}`;
  for (const signature of [[SIGNATURE, wrong], [wrong, SIGNATURE], `${SIGNATURE}, ${wrong}`, `${wrong}, ${SIGNATURE}`, `${wrong} ${SIGNATURE}`]) {
    assert.equal(verifyStandard({ ...headers(), 'webhook-signature': signature }, BODY, keys, AT).ok, true, String(signature));
  }
  const none = verifyStandard({ ...headers(), 'webhook-signature': [wrong, wrong] }, BODY, keys, AT);
  assert.deepEqual(!none.ok && [none.status, none.code], [401, 'webhook_bad_signature']);
});

test('a webhook-id, webhook-timestamp or x-signature given more than once is malformed', () => {
  const once = headers();
  for (const name of ['webhook-id', 'webhook-timestamp'] as const) {
    const result = verifySignature({ ...once, [name]: [once[name], once[name]] }, BODY, keys, AT);
    assert.deepEqual(!result.ok && [result.status, result.code], [400, 'webhook_malformed'], name);
  }
  const legacy = legacyHeaders(SECRET, '{}');
  const twice = verifySignature({ 'x-signature': [legacy['x-signature']!, legacy['x-signature']!] }, Buffer.from('{}'), keys, AT);
  assert.deepEqual(!twice.ok && [twice.status, twice.code], [400, 'webhook_malformed']);
});

test('a signature header that cannot be read is malformed (400); a readable one that does not match is 401', () => {
  for (const signature of ['garbage', 'v1', 'v1,', ',,,', '']) {
    const result = verifyStandard({ ...headers(), 'webhook-signature': signature }, BODY, keys, AT);
    assert.equal(result.ok, false, signature);
    // An empty header counts as a missing one.
    if (!result.ok) assert.deepEqual([result.status, result.code], signature === '' ? [401, 'webhook_unsigned'] : [400, 'webhook_malformed'], signature);
  }
  for (const value of ['sha256=zz', 'abc', 'sha256=' + 'a'.repeat(63)]) {
    const result = verifyLegacy({ 'x-signature': value }, BODY, keys);
    assert.deepEqual(!result.ok && [result.status, result.code], [400, 'webhook_malformed'], value);
  }
  const wrong = verifyLegacy({ 'x-signature': 'a'.repeat(64) }, BODY, keys);
  assert.deepEqual(!wrong.ok && [wrong.status, wrong.code], [401, 'webhook_bad_signature']);
});
