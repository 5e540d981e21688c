/**
 * A local stand-in for the Ghost 6 Admin API members endpoints, faithful enough that the real
 * `@tryghost/admin-api` client works against it unmodified.
 *
 * It follows what Ghost itself does (ghost/core, @tryghost/api-framework, the admin API JSON
 * schemas), including the parts that are easy to get wrong:
 * - Auth: `Authorization: Ghost <jwt>`, HS256 with the hex-decoded secret, `kid` = key id, `aud`
 *   tested against /\/?admin\/?$/ (not anchored at the start, so "/v6/admin/" passes too), `exp`
 *   honoured and the token refused once it is 5 minutes old counted from `iat` (jsonwebtoken's
 *   maxAge, which is how Ghost enforces its 5-minute rule). A request with no Authorization header
 *   at all is not a 401 in Ghost: it falls through to the "is anyone authenticated" check, a 403.
 * - Members add/edit: unknown fields are silently dropped (Ghost's Ajv runs with
 *   `removeAdditional`), typed fields are validated (`note` must be a string of at most 2000
 *   characters, so `null` is a 422), `labels` replace the member's set, matched to existing labels
 *   by case-insensitive name and created otherwise.
 * - Errors raised inside an endpoint get Ghost's user-facing rewrite: the message becomes e.g.
 *   "Validation error, cannot edit member." and the original message moves into `context`.
 * - Custom fields (Ghost's `membersCustomFields` feature) live under `custom_fields: {key: value}`,
 *   returned on read, on browse only with `include=custom_fields`, merged on edit, refused on add.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedRequest } from './recorded-request.js';

export interface GhostLabel {
  id: string;
  name: string;
  slug: string;
  created_at: string;
  updated_at: string;
}

export interface GhostMember {
  id: string;
  uuid: string;
  email: string;
  name: string | null;
  note: string | null;
  status: 'free' | 'paid' | 'comped';
  labels: GhostLabel[];
  created_at: string;
  updated_at: string;
  [custom: string]: unknown;
}

export type { RecordedRequest };

export interface SeedMember {
  email: string;
  name?: string;
  note?: string | null;
  labels?: string[];
  status?: GhostMember['status'];
  subscribed?: boolean;
  /** Values for configured custom fields (only when the fake was started with `customFields`). */
  custom_fields?: Record<string, string>;
}

export interface FakeGhost {
  /** http://127.0.0.1:PORT, what CMS_URL is set to; the API lives under /ghost/api/admin/. */
  url: string;
  /** "<24-hex id>:<64-hex secret>", what CMS_ADMIN_KEY is set to. */
  adminKey: string;
  requests: RecordedRequest[];
  /** Seeds a member directly (no HTTP, not recorded). */
  addMember(m: SeedMember): GhostMember;
  /** The member as GET /members/:id/ would return it; email matched case-insensitively. */
  member(email: string): GhostMember | undefined;
  /** All members, oldest first, as GET /members/:id/ would return them. */
  members(): GhostMember[];
  /** true: every request answers 503 (Ghost's error body); a number: that status; false: normal. */
  setDown(down: boolean | number): void;
  /** The next `times` requests (default 1) answer `status` with Ghost's error body. */
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
}

export interface FakeGhostOptions {
  /** Turns on Ghost's member custom fields with these keys, e.g. ['discord_id']. */
  customFields?: string[];
  /** Port on 127.0.0.1. Default 0: any free port. */
  port?: number;
}

const CONTENT_VERSION = 'v6.0';
const TOKEN_MAX_AGE_SECONDS = 5 * 60;
const DEFAULT_LIMIT = 15;
const MAX_LIMIT = 100;
const ALLOWED_INCLUDES = ['email_recipients', 'products', 'tiers', 'custom_fields'];

// ---------------------------------------------------------------------------------------------
// Errors, rendered like Ghost's JSON error handler.

interface ErrorFields {
  context?: string | null;
  details?: unknown;
  property?: string | null;
  help?: string | null;
  code?: string | null;
}

class GhostApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly fields: ErrorFields = {},
  ) {
    super(message);
  }
}

const badRequest = (message: string, fields?: ErrorFields) => new GhostApiError(400, 'BadRequestError', message, fields);
const unauthorized = (message: string, fields?: ErrorFields) => new GhostApiError(401, 'UnauthorizedError', message, fields);
const notFound = (message: string, fields?: ErrorFields) => new GhostApiError(404, 'NotFoundError', message, fields);
const invalid = (message: string, fields?: ErrorFields) => new GhostApiError(422, 'ValidationError', message, fields);

// Default messages of @tryghost/errors, used for setDown/failNext.
const STATUS_ERRORS: Record<number, [type: string, message: string]> = {
  400: ['BadRequestError', 'The request could not be understood.'],
  401: ['UnauthorizedError', 'You are not authorised to make this request.'],
  403: ['NoPermissionError', 'You do not have permission to perform this request.'],
  404: ['NotFoundError', 'Resource could not be found.'],
  409: ['ConflictError', 'The server has encountered an conflict.'],
  413: ['RequestEntityTooLargeError', 'Request was too big for the server to handle.'],
  415: ['UnsupportedMediaTypeError', 'The media in the request is not supported by the server.'],
  422: ['ValidationError', 'The request failed validation.'],
  429: ['TooManyRequestsError', 'Server has received too many similar requests in a short space of time.'],
  500: ['InternalServerError', 'The server has encountered an error.'],
  // Ghost's maintenance middleware words it this way.
  503: ['MaintenanceError', 'Site is currently undergoing maintenance, please wait a moment then retry.'],
};

function statusError(status: number): GhostApiError {
  const fallback: [string, string] = status >= 500
    ? ['InternalServerError', 'The server has encountered an error.']
    : ['BadRequestError', 'The request could not be understood.'];
  const [type, message] = STATUS_ERRORS[status] ?? fallback;
  return new GhostApiError(status, type, message);
}

// Ghost rewrites errors thrown inside an API endpoint into a user message naming the action.
const USER_MESSAGES: Record<string, string> = {
  BadRequestError: 'Request not understood error',
  NotFoundError: 'Resource not found error',
  ValidationError: 'Validation error',
  UnauthorizedError: 'Authorisation error',
  NoPermissionError: 'Permission error',
  InternalServerError: 'Internal server error',
};

function inEndpoint(action: string, err: GhostApiError): GhostApiError {
  const prefix = USER_MESSAGES[err.type];
  const message = prefix ? `${prefix}, cannot ${action}.` : `Unknown error - ${err.type}, cannot ${action}.`;
  const context = err.fields.context ? `${err.message} ${err.fields.context}` : err.message;
  return new GhostApiError(err.status, err.type, message, { ...err.fields, context });
}

function errorBody(err: GhostApiError) {
  return {
    errors: [{
      message: err.message,
      context: err.fields.context ?? null,
      type: err.type,
      details: err.fields.details ?? null,
      property: err.fields.property ?? null,
      help: err.fields.help ?? null,
      code: err.fields.code ?? null,
      id: randomUUID(),
      ghostErrorCode: null,
    }],
  };
}

// ---------------------------------------------------------------------------------------------
// Admin API key authentication (ghost/core services/auth/api-key/admin.js + jsonwebtoken.verify).

interface AdminKey {
  id: string;
  secret: Buffer;
}

const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)?$/;

function decodeSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns the error Ghost would answer with, or null when the request is authenticated. */
function authenticate(authorization: string | undefined, key: AdminKey, audience: RegExp): GhostApiError | null {
  if (!authorization) {
    return new GhostApiError(403, 'NoPermissionError', 'Authorization failed', {
      context: 'Unable to determine the authenticated user or integration. Check that cookies are being passed through if using session authentication.',
    });
  }
  const [scheme, token] = authorization.split(' ');
  if (!scheme || !/^Ghost$/i.test(scheme) || !token) {
    return unauthorized('Authorization header format is "Authorization: Ghost [token]"', { code: 'INVALID_AUTH_HEADER' });
  }

  const [headerPart = '', payloadPart = '', signature = ''] = token.split('.');
  const header = decodeSegment(headerPart);
  const payload = decodeSegment(payloadPart);
  if (!JWS_SHAPE.test(token) || !isRecord(header) || payload === undefined) {
    return badRequest('Invalid token', { code: 'INVALID_JWT' });
  }
  if (!header.kid) {
    return badRequest('Admin API kid missing.', { code: 'MISSING_ADMIN_API_KID' });
  }
  if (header.kid !== key.id) {
    return unauthorized('Unknown Admin API Key', { code: 'UNKNOWN_ADMIN_API_KEY' });
  }

  const refuse = (reason: string) => unauthorized(`Invalid token: ${reason}`, { code: 'INVALID_JWT' });
  if (!signature) return refuse('jwt signature is required');
  if (header.alg !== 'HS256') return refuse('invalid algorithm');
  const expected = Buffer.from(createHmac('sha256', key.secret).update(`${headerPart}.${payloadPart}`).digest('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse('invalid signature');

  const claims = isRecord(payload) ? payload : {};
  const now = Math.floor(Date.now() / 1000);
  if (claims.nbf !== undefined) {
    if (typeof claims.nbf !== 'number') return refuse('invalid nbf value');
    // jsonwebtoken raises NotBeforeError, which Ghost does not map: it surfaces as a 500.
    if (claims.nbf > now) return statusError(500);
  }
  if (claims.exp !== undefined) {
    if (typeof claims.exp !== 'number') return refuse('invalid exp value');
    if (now >= claims.exp) return refuse('jwt expired');
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.some((aud) => audience.test(String(aud)))) {
    return refuse(`jwt audience invalid. expected: ${audience}`);
  }
  if (typeof claims.iat !== 'number') return refuse('iat required when maxAge is specified');
  if (now >= claims.iat + TOKEN_MAX_AGE_SECONDS) return refuse('maxAge exceeded');
  return null;
}

// ---------------------------------------------------------------------------------------------
// Input validation: Ghost's shared validators, then the members JSON schema (Ajv, allErrors,
// removeAdditional). Errors carry Ajv-shaped details.

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message: string;
}

type Rule = (value: unknown, at: string, schemaAt: string) => AjvError[];

const typeError = (type: string, at: string, schemaAt: string): AjvError =>
  ({ instancePath: at, schemaPath: `${schemaAt}/type`, keyword: 'type', params: { type }, message: `must be ${type}` });

function stringRule(opts: { min?: number; max: number; noLeadingComma?: boolean; nullable?: boolean }): Rule {
  return (value, at, schemaAt) => {
    if (value === null && opts.nullable) return [];
    if (typeof value !== 'string') return [typeError(opts.nullable ? 'string,null' : 'string', at, schemaAt)];
    const errors: AjvError[] = [];
    const length = [...value].length;
    if (opts.min !== undefined && length < opts.min) {
      errors.push({ instancePath: at, schemaPath: `${schemaAt}/minLength`, keyword: 'minLength', params: { limit: opts.min }, message: `must NOT have fewer than ${opts.min} characters` });
    }
    if (length > opts.max) {
      errors.push({ instancePath: at, schemaPath: `${schemaAt}/maxLength`, keyword: 'maxLength', params: { limit: opts.max }, message: `must NOT have more than ${opts.max} characters` });
    }
    if (opts.noLeadingComma && value.startsWith(',')) {
      errors.push({ instancePath: at, schemaPath: `${schemaAt}/pattern`, keyword: 'pattern', params: { pattern: '^([^,]|$)' }, message: 'must match pattern "^([^,]|$)"' });
    }
    return errors;
  };
}

const booleanRule: Rule = (value, at, schemaAt) => (typeof value === 'boolean' ? [] : [typeError('boolean', at, schemaAt)]);
const arrayRule: Rule = (value, at, schemaAt) => (Array.isArray(value) ? [] : [typeError('array', at, schemaAt)]);
const anything: Rule = () => [];

/** labels / tiers / newsletters: an array of names, or of objects naming an id, name or slug. */
const relationListRule: Rule = (value, at, schemaAt) => {
  if (!Array.isArray(value)) return [typeError('array', at, schemaAt)];
  const itemRule = stringRule({ max: 191 });
  return value.flatMap((item: unknown, i) => {
    const itemAt = `${at}/${i}`;
    const asObject = isRecord(item) && ['id', 'name', 'slug'].some((k) => k in item);
    if (asObject || itemRule(item, itemAt, '').length === 0) return [];
    return [{ instancePath: itemAt, schemaPath: `${schemaAt}/items/anyOf`, keyword: 'anyOf', params: {}, message: 'must match a schema in anyOf' }];
  });
};

const MEMBER_FIELDS: Record<string, Rule> = {
  name: stringRule({ max: 191, noLeadingComma: true }),
  email: stringRule({ min: 1, max: 191, noLeadingComma: true }),
  note: stringRule({ min: 0, max: 2000 }),
  subscribed: booleanRule,
  comped: booleanRule,
  subscriptions: arrayRule,
  labels: relationListRule,
  products: relationListRule,
  tiers: relationListRule,
  newsletters: relationListRule,
  can_comment: booleanRule,
  comment_ban: anything,
  // Declared by the schema on every site; the members service drops it when the feature is off.
  custom_fields: anything,
};
const ADD_ONLY_FIELDS: Record<string, Rule> = { stripe_customer_id: stringRule({ max: Infinity }) };

const isEmpty = (v: unknown): boolean => {
  if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
  if (isRecord(v)) return Object.keys(v).length === 0;
  return true; // lodash: null, numbers and booleans are "empty"
};

/** Validates `{members: [row]}` for add/edit and returns the row with unknown fields removed. */
function validateMembersBody(body: unknown, method: 'add' | 'edit', idOption?: string): Record<string, unknown> {
  const data = isRecord(body) ? body : {};
  const rows = data.members;
  const first: unknown = Array.isArray(rows) ? rows[0] : undefined;
  if (isEmpty(data) || isEmpty(rows) || isEmpty(first)) {
    throw badRequest("No root key ('members') provided.");
  }
  if (method === 'add' && isRecord(first)) {
    if (!Object.hasOwn(first, 'email')) throw invalid('Validation (FieldIsRequired) failed for ["email"]');
    if (first.email === null || first.email === undefined) throw invalid('Validation (FieldIsInvalid) failed for ["email"]');
  }
  if (method === 'edit' && isRecord(first) && 'id' in first && first.id !== idOption) {
    throw badRequest('Invalid id provided.');
  }

  const schemaRoot = method === 'add' ? 'members#/definitions/member' : '#/properties/members/items';
  const errors: AjvError[] = [];
  if (Array.isArray(rows) && rows.length > 1) {
    errors.push({ instancePath: '/members', schemaPath: '#/properties/members/maxItems', keyword: 'maxItems', params: { limit: 1 }, message: 'must NOT have more than 1 items' });
  }
  const fields = method === 'add' ? { ...MEMBER_FIELDS, ...ADD_ONLY_FIELDS } : MEMBER_FIELDS;
  const row: Record<string, unknown> = {};
  if (!isRecord(first)) {
    errors.push(typeError('object', '/members/0', schemaRoot));
  } else {
    for (const [field, value] of Object.entries(first)) {
      const rule = fields[field];
      if (!rule) continue; // removeAdditional: unknown fields are dropped, not refused
      errors.push(...rule(value, `/members/0/${field}`, `${schemaRoot}/properties/${field}`));
      row[field] = value;
    }
  }
  const firstError = errors[0];
  if (firstError) {
    const property = firstError.instancePath.split('/').pop() || 'members';
    throw invalid(`Validation failed for ${property}.`, { property, details: errors });
  }
  return row;
}

function checkIdOption(id: string): void {
  if (!/^(?:[a-f\d]{24}|1|me)$/i.test(id)) throw invalid('Validation (matches) failed for id');
}

function parseInclude(raw: string | null): Set<string> {
  // Ghost silently drops include values it does not allow.
  const values = (raw ?? '').split(',').map((v) => v.trim().toLowerCase());
  return new Set(values.filter((v) => ALLOWED_INCLUDES.includes(v)));
}

// Close to validator.isEmail for the cases that matter: one @, no spaces, a dotted domain.
const EMAIL = /^[^\s@"(),:;<>[\]\\]+@(?:[a-z\d](?:[a-z\d-]*[a-z\d])?\.)+[a-z]{2,}$/i;

// ---------------------------------------------------------------------------------------------
// A small NQL subset: key:value, key:-value, key:~value (contains), ~^ / ~$, > >= < <=,
// key:[a,b], + (and), "," (or), parentheses; values quoted '...' / "..." or bare.

type NqlValue = string | number | boolean | null;
type NqlOp = '=' | '>' | '>=' | '<' | '<=' | '~' | '~^' | '~$';
type NqlNode =
  | { kind: 'and' | 'or'; nodes: NqlNode[] }
  | { kind: 'cmp'; field: string; op: NqlOp; negate: boolean; values: NqlValue[] };

const FILTER_FIELDS = new Set(['id', 'uuid', 'email', 'name', 'note', 'status', 'subscribed', 'created_at', 'updated_at', 'label', 'labels', 'labels.slug', 'labels.name', 'labels.id']);

function parseNql(src: string): NqlNode {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(`Unexpected input at position ${i} of filter`);
  };
  const skipSpace = () => {
    while (i < src.length && /\s/.test(src[i] ?? '')) i++;
  };
  const list = (kind: 'and' | 'or', sep: string, item: () => NqlNode): NqlNode => {
    const nodes = [item()];
    skipSpace();
    while (src[i] === sep) {
      i++;
      nodes.push(item());
      skipSpace();
    }
    return nodes.length === 1 ? nodes[0] ?? fail() : { kind, nodes };
  };
  const expression = (): NqlNode => list('or', ',', () => list('and', '+', term));
  const term = (): NqlNode => {
    skipSpace();
    if (src[i] !== '(') return clause();
    i++;
    const node = expression();
    skipSpace();
    if (src[i] !== ')') fail();
    i++;
    return node;
  };
  const value = (): NqlValue => {
    skipSpace();
    const quote = src[i];
    if (quote === "'" || quote === '"') {
      let out = '';
      for (i++; i < src.length && src[i] !== quote; i++) {
        if (src[i] === '\\') i++;
        out += src[i] ?? '';
      }
      if (src[i] !== quote) fail();
      i++;
      return out;
    }
    const bare = /^[^\s'"()[\],+]+/.exec(src.slice(i))?.[0] ?? fail();
    i += bare.length;
    if (bare === 'true' || bare === 'false') return bare === 'true';
    if (bare === 'null') return null;
    return /^-?\d+(?:\.\d+)?$/.test(bare) ? Number(bare) : bare;
  };
  const clause = (): NqlNode => {
    const field = /^[A-Za-z_][\w.]*/.exec(src.slice(i))?.[0] ?? fail();
    i += field.length;
    if (src[i] !== ':') fail();
    i++;
    const negate = src[i] === '-';
    if (negate) i++;
    const op = (['>=', '<=', '>', '<', '~^', '~$', '~'] as const).find((o) => src.startsWith(o, i)) ?? '=';
    if (op !== '=') i += op.length;
    skipSpace();
    if (src[i] !== '[') return { kind: 'cmp', field, op, negate, values: [value()] };
    i++;
    const values = [value()];
    skipSpace();
    while (src[i] === ',') {
      i++;
      values.push(value());
      skipSpace();
    }
    if (src[i] !== ']') fail();
    i++;
    return { kind: 'cmp', field, op, negate, values };
  };

  const tree = expression();
  skipSpace();
  if (i !== src.length) fail();
  return tree;
}

function unsupportedField(node: NqlNode): string | undefined {
  if (node.kind === 'cmp') return FILTER_FIELDS.has(node.field) ? undefined : node.field;
  for (const child of node.nodes) {
    const field = unsupportedField(child);
    if (field) return field;
  }
  return undefined;
}

// String comparisons ignore case, as they do on Ghost's MySQL collation.
function compare(actual: NqlValue, op: NqlOp, expected: NqlValue): boolean {
  if (actual === null || expected === null) return op === '=' && actual === expected;
  const a = typeof actual === 'string' ? actual.toLowerCase() : actual;
  const e = typeof expected === 'string' ? expected.toLowerCase() : expected;
  switch (op) {
    case '=': return String(a) === String(e);
    case '~': return String(a).includes(String(e));
    case '~^': return String(a).startsWith(String(e));
    case '~$': return String(a).endsWith(String(e));
    case '>': return a > e;
    case '>=': return a >= e;
    case '<': return a < e;
    case '<=': return a <= e;
  }
}

// ---------------------------------------------------------------------------------------------
// Storage.

interface StoredMember {
  id: string;
  uuid: string;
  email: string;
  name: string | null;
  note: string | null;
  status: GhostMember['status'];
  subscribed: boolean;
  labelIds: string[];
  customFields: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

// MongoDB-style ObjectId: seconds, a per-process random part, then a counter, so ids created in
// the same second still sort in creation order (Ghost orders members by created_at, then id).
const processPart = randomBytes(5);
let idCounter = randomBytes(3).readUIntBE(0, 3);
function objectId(): string {
  const id = Buffer.alloc(12);
  id.writeUInt32BE(Math.floor(Date.now() / 1000), 0);
  processPart.copy(id, 4);
  idCounter = (idCounter + 1) % 0x1000000;
  id.writeUIntBE(idCounter, 9, 3);
  return id.toString('hex');
}

const NEWSLETTER = { id: objectId(), name: 'Fake Ghost', description: null, status: 'active' };

// Ghost stores DATETIME (whole seconds) and answers ISO strings with ".000Z".
function timestamp(): string {
  const now = new Date();
  now.setUTCMilliseconds(0);
  return now.toISOString();
}

function slugify(name: string): string {
  const slug = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z\d]+/g, '-').replace(/^-+|-+$/g, '');
  return slug || 'label';
}

export function startFakeGhost(opts: FakeGhostOptions = {}): Promise<FakeGhost> {
  const keyId = randomBytes(12).toString('hex');
  const keySecret = randomBytes(32).toString('hex');
  const key: AdminKey = { id: keyId, secret: Buffer.from(keySecret, 'hex') };
  const customFieldsOn = opts.customFields !== undefined;
  const customFieldKeys = new Set(opts.customFields ?? []);

  const members = new Map<string, StoredMember>();
  const labels = new Map<string, GhostLabel>();
  const requests: RecordedRequest[] = [];
  let down: boolean | number = false;
  const failures: { status: number; remaining: number }[] = [];
  let url = '';

  const findByEmail = (email: string) => {
    const wanted = email.toLowerCase();
    return [...members.values()].find((m) => m.email.toLowerCase() === wanted);
  };

  /** Ghost's Member.onSaving: trim, drop nameless, dedupe and match existing labels by name, ignoring case. */
  function resolveLabels(input: unknown[]): string[] {
    const ids: string[] = [];
    const seen = new Set<string>();
    for (const item of input) {
      const wanted = typeof item === 'string' ? { name: item } : isRecord(item) ? item : {};
      const name = typeof wanted.name === 'string' ? wanted.name.trim() : '';
      if (!name || seen.has(name.toLowerCase())) continue;
      seen.add(name.toLowerCase());
      const existing = [...labels.values()].find((l) => l.name.toLowerCase() === name.toLowerCase());
      ids.push(existing ? existing.id : createLabel(name, wanted.slug).id);
    }
    return ids;
  }

  function createLabel(name: string, requestedSlug: unknown): GhostLabel {
    const taken = new Set([...labels.values()].map((l) => l.slug));
    const base = typeof requestedSlug === 'string' && requestedSlug ? slugify(requestedSlug) : slugify(name);
    let slug = base;
    for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`;
    const now = timestamp();
    const label: GhostLabel = { id: objectId(), name, slug, created_at: now, updated_at: now };
    labels.set(label.id, label);
    return label;
  }

  /** The member as Ghost's members serializer writes it. */
  function present(m: StoredMember, extras: { tiers: boolean; customFields: boolean }): GhostMember {
    const emailHash = createHash('md5').update(m.email.trim().toLowerCase()).digest('hex');
    const unsubscribeKey = createHmac('sha256', key.secret).update(m.uuid).digest('hex');
    const member: GhostMember = {
      id: m.id,
      uuid: m.uuid,
      email: m.email,
      name: m.name,
      note: m.note,
      geolocation: null,
      subscribed: m.subscribed,
      created_at: m.createdAt,
      updated_at: m.updatedAt,
      labels: m.labelIds.flatMap((id) => {
        const label = labels.get(id);
        return label ? [{ ...label }] : [];
      }),
      subscriptions: [],
      avatar_image: `https://www.gravatar.com/avatar/${emailHash}?s=250&r=g&d=blank`,
      comped: m.status === 'comped',
      email_count: 0,
      email_opened_count: 0,
      email_open_rate: null,
      status: m.status,
      last_seen_at: null,
      can_comment: true,
      unsubscribe_url: `${url}/unsubscribe/?uuid=${m.uuid}&key=${unsubscribeKey}`,
    };
    if (extras.tiers) member.tiers = [];
    member.email_suppression = { suppressed: false, info: null };
    member.newsletters = m.subscribed ? [{ ...NEWSLETTER }] : [];
    if (extras.customFields && customFieldsOn) member.custom_fields = { ...m.customFields };
    return member;
  }

  const presentRead = (m: StoredMember) => present(m, { tiers: true, customFields: true });

  /** Parses custom_fields input into the changes it implies (undefined = clear), like Ghost's values service. */
  function planCustomFields(input: unknown): [string, string | undefined][] {
    if (!isRecord(input)) {
      throw invalid('Custom field values must be an object keyed by field key.', { property: 'custom_fields' });
    }
    return Object.entries(input).map(([field, value]) => {
      if (!customFieldKeys.has(field)) {
        throw invalid(`Unknown custom field: ${field}`, { property: `custom_fields.${field}` });
      }
      if (value === null || value === '') return [field, undefined];
      if (typeof value !== 'string') {
        throw invalid(`Invalid value for custom field '${field}'.`, {
          context: `Invalid input: expected string, received ${typeof value}`,
          property: `custom_fields.${field}`,
        });
      }
      return [field, value];
    });
  }

  function createMember(row: Record<string, unknown>): StoredMember {
    const email = String(row.email);
    if (!EMAIL.test(email)) throw invalid('Invalid Email', { property: 'email' });
    if (findByEmail(email)) {
      throw invalid('Member already exists.', { context: 'Attempting to add member with existing email address', property: 'email' });
    }
    const now = timestamp();
    const member: StoredMember = {
      id: objectId(),
      uuid: randomUUID(),
      email,
      name: typeof row.name === 'string' ? row.name : null,
      note: typeof row.note === 'string' ? row.note : null,
      status: 'free',
      subscribed: row.subscribed !== false,
      labelIds: Array.isArray(row.labels) ? resolveLabels(row.labels) : [],
      customFields: {},
      createdAt: now,
      updatedAt: now,
    };
    members.set(member.id, member);
    return member;
  }

  // --- endpoints -----------------------------------------------------------------------------

  function browse(query: URLSearchParams) {
    const limitRaw = query.get('limit');
    if (limitRaw !== null && !/^(?:\d+|all)$/.test(limitRaw)) throw invalid('Validation (matches) failed for limit');
    const pageRaw = query.get('page');
    if (pageRaw !== null && !/^\d+$/.test(pageRaw)) throw invalid('Validation (matches) failed for page');
    const orderRaw = query.get('order');
    if (orderRaw !== null && !/^[a-z0-9_,. ]+$/i.test(orderRaw)) throw invalid('Validation (matches) failed for order');
    const include = parseInclude(query.get('include'));

    let found = [...members.values()];
    const filter = query.get('filter');
    if (filter) {
      let tree: NqlNode;
      try {
        tree = parseNql(filter);
      } catch {
        throw badRequest('Error parsing filter');
      }
      const unsupported = unsupportedField(tree);
      if (unsupported) throw badRequest('Error parsing filter', { context: `The fake Ghost cannot filter members on "${unsupported}"` });
      found = found.filter((m) => matches(m, tree));
    }
    const search = query.get('search')?.toLowerCase();
    if (search) {
      found = found.filter((m) => m.email.toLowerCase().includes(search) || (m.name ?? '').toLowerCase().includes(search));
    }
    found.sort(ordering(orderRaw));

    const parsedLimit = limitRaw === 'all' ? MAX_LIMIT : Number.parseInt(limitRaw ?? '', 10) || DEFAULT_LIMIT;
    const limit = Math.min(parsedLimit, MAX_LIMIT);
    const page = Number.parseInt(pageRaw ?? '', 10) || 1;
    const total = found.length;
    const pages = Math.ceil(total / limit) || 1;
    // Ghost's pagination plugin, quirks included (a page past the end gets both next and prev).
    let next: number | null = null;
    let prev: number | null = null;
    if (pages > 1) {
      if (page === 1) next = page + 1;
      else if (page === pages) prev = page - 1;
      else [next, prev] = [page + 1, page - 1];
    }
    const extras = { tiers: include.has('tiers') || include.has('products'), customFields: include.has('custom_fields') };
    return {
      status: 200,
      body: {
        members: found.slice((page - 1) * limit, page * limit).map((m) => present(m, extras)),
        meta: { pagination: { page, limit, pages, total, next, prev } },
      },
    };
  }

  function matches(m: StoredMember, node: NqlNode): boolean {
    if (node.kind !== 'cmp') {
      return node.kind === 'and' ? node.nodes.every((n) => matches(m, n)) : node.nodes.some((n) => matches(m, n));
    }
    const memberLabels = m.labelIds.flatMap((id) => labels.get(id) ?? []);
    const fields: Record<string, NqlValue[]> = {
      id: [m.id], uuid: [m.uuid], email: [m.email], name: [m.name], note: [m.note], status: [m.status],
      subscribed: [m.subscribed], created_at: [m.createdAt], updated_at: [m.updatedAt],
      label: memberLabels.map((l) => l.slug), labels: memberLabels.map((l) => l.slug),
      'labels.slug': memberLabels.map((l) => l.slug), 'labels.name': memberLabels.map((l) => l.name),
      'labels.id': memberLabels.map((l) => l.id),
    };
    const actual = fields[node.field] ?? [];
    // For relations (labels) the negation means "has no such label", as Ghost's SQL does.
    const hit = actual.some((a) => node.values.some((v) => compare(a, node.op, v)));
    return node.negate ? !hit : hit;
  }

  function ordering(order: string | null): (a: StoredMember, b: StoredMember) => number {
    const keys: [keyof StoredMember, number][] = [];
    const columns: Record<string, keyof StoredMember> = { created_at: 'createdAt', updated_at: 'updatedAt', email: 'email', name: 'name', id: 'id', status: 'status' };
    for (const part of (order ?? 'created_at desc').split(',')) {
      const [field = '', direction = 'asc'] = part.trim().split(/\s+/);
      const column = columns[field.toLowerCase()];
      if (column) keys.push([column, direction.toLowerCase() === 'desc' ? -1 : 1]);
    }
    keys.push(['id', -1]);
    return (a, b) => {
      for (const [column, sign] of keys) {
        const x = String(a[column] ?? '').toLowerCase();
        const y = String(b[column] ?? '').toLowerCase();
        if (x !== y) return x < y ? -sign : sign;
      }
      return 0;
    };
  }

  function read(id: string) {
    checkIdOption(id);
    const member = members.get(id);
    if (!member) throw notFound('Member not found.');
    return { status: 200, body: { members: [presentRead(member)] } };
  }

  function add(query: URLSearchParams, body: unknown) {
    const emailType = query.get('email_type');
    if (emailType && !['signin', 'signup', 'subscribe'].includes(emailType.trim().toLowerCase())) {
      throw invalid('Validation (AllowedValues) failed for email_type');
    }
    const row = validateMembersBody(body, 'add');
    if (customFieldsOn && row.custom_fields !== undefined && planCustomFields(row.custom_fields).length > 0) {
      throw invalid('Custom field values cannot be set while creating a member. Create the member, then set values with an edit.', { property: 'custom_fields' });
    }
    if (row.comped || row.stripe_customer_id) {
      throw invalid('Missing Stripe connection.', {
        context: 'Attempting to import members with Stripe data when there is no Stripe account connected.',
        help: 'You need to connect to Stripe to import Stripe customers. ',
        property: row.comped ? 'comped' : 'stripe_customer_id',
      });
    }
    return { status: 201, body: { members: [presentRead(createMember(row))] } };
  }

  function edit(id: string, body: unknown) {
    checkIdOption(id);
    const row = validateMembersBody(body, 'edit', id);
    const customChanges = customFieldsOn && row.custom_fields !== undefined ? planCustomFields(row.custom_fields) : [];
    const member = members.get(id);
    if (!member) throw notFound(`Could not find Member ${id}`);

    if (typeof row.email === 'string' && row.email !== member.email) {
      if (!EMAIL.test(row.email)) throw invalid('Invalid Email', { property: 'email' });
      const other = findByEmail(row.email);
      if (other && other.id !== member.id) {
        throw invalid('Member already exists.', { context: 'Attempting to edit member with existing email address', property: 'email' });
      }
    }
    const before = JSON.stringify(member);
    if (typeof row.email === 'string') member.email = row.email;
    if (typeof row.name === 'string') member.name = row.name;
    if (typeof row.note === 'string') member.note = row.note;
    if (typeof row.subscribed === 'boolean') member.subscribed = row.subscribed;
    if (Array.isArray(row.newsletters)) member.subscribed = row.newsletters.length > 0;
    if (Array.isArray(row.labels)) member.labelIds = resolveLabels(row.labels);
    for (const [field, value] of customChanges) {
      if (value === undefined) delete member.customFields[field];
      else member.customFields[field] = value;
    }
    if (JSON.stringify(member) !== before) member.updatedAt = timestamp();
    return { status: 200, body: { members: [presentRead(member)] } };
  }

  // --- HTTP ----------------------------------------------------------------------------------

  type Route = { action: string; run: () => { status: number; body: unknown } };

  function route(method: string, pathname: string, query: URLSearchParams, body: unknown): { version?: string; route: Route } | null {
    // Ghost still serves the legacy versioned prefixes (/ghost/api/v4/admin/...) next to /ghost/api/admin/.
    const match = /^\/ghost\/api\/(?:(v[2-5]|canary)\/)?admin\/members(?:\/([^/]+))?\/?$/.exec(pathname);
    if (!match) return null;
    const [, version, id] = match;
    let found: Route | null = null;
    if (id === undefined && method === 'GET') found = { action: 'list members', run: () => browse(query) };
    if (id === undefined && method === 'POST') found = { action: 'save member', run: () => add(query, body) };
    if (id !== undefined && method === 'GET') found = { action: 'read member', run: () => read(id) };
    if (id !== undefined && method === 'PUT') found = { action: 'edit member', run: () => edit(id, body) };
    return found && { version, route: found };
  }

  function parseBody(req: IncomingMessage, raw: string): unknown {
    // Like body-parser's json(): only application/json bodies are parsed, others read as {}.
    if (!raw || !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return {};
    try {
      return JSON.parse(raw);
    } catch (err) {
      // Not a Ghost error, so Ghost's error handler wraps it as an "unexpected" one, keeping the 400.
      throw new GhostApiError(400, 'InternalServerError', 'An unexpected error occurred, please try again.', {
        context: err instanceof Error ? err.message : null,
        code: 'UNEXPECTED_ERROR',
      });
    }
  }

  function respond(statusOrError: GhostApiError | { status: number; body: unknown }): { status: number; body: unknown } {
    return statusOrError instanceof GhostApiError ? { status: statusOrError.status, body: errorBody(statusOrError) } : statusOrError;
  }

  function handle(req: IncomingMessage, raw: string): { status: number; body: unknown } {
    if (down !== false) return respond(statusError(down === true ? 503 : down));
    const failure = failures[0];
    if (failure) {
      if (--failure.remaining <= 0) failures.shift();
      return respond(statusError(failure.status));
    }
    const method = req.method ?? 'GET';
    const target = new URL(req.url ?? '/', 'http://fake.invalid');
    try {
      const body = parseBody(req, raw);
      const found = route(method, target.pathname, target.searchParams, body);
      if (!found) return respond(notFound('Resource not found'));
      const audience = new RegExp(found.version ? `/?${found.version}/admin/?$` : '/?admin/?$');
      const authError = authenticate(req.headers.authorization, key, audience);
      if (authError) return respond(authError);
      try {
        return found.route.run();
      } catch (err) {
        if (err instanceof GhostApiError) return respond(inEndpoint(found.route.action, err));
        throw err;
      }
    } catch (err) {
      if (err instanceof GhostApiError) return respond(err);
      return respond(new GhostApiError(500, 'InternalServerError', 'An unexpected error occurred, please try again.', {
        context: err instanceof Error ? err.message : String(err),
        code: 'UNEXPECTED_ERROR',
      }));
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const { status, body } = handle(req, raw);
      const target = new URL(req.url ?? '/', 'http://fake.invalid');
      // Recorded before answering, so a test sees it as soon as its client call returns.
      requests.push({ method: req.method ?? 'GET', path: target.pathname, query: target.search.slice(1), headers: { ...req.headers }, body: raw, status });
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
        'Content-Version': CONTENT_VERSION,
        'Cache-Control': 'no-cache, private, no-store, must-revalidate, max-stale=0, post-check=0, pre-check=0',
      });
      res.end(text);
    });
  });

  const fake: FakeGhost = {
    get url() {
      return url;
    },
    adminKey: `${keyId}:${keySecret}`,
    requests,
    addMember(seed) {
      const member = createMember({ ...seed });
      if (seed.status) member.status = seed.status;
      if (seed.subscribed !== undefined) member.subscribed = seed.subscribed;
      if (seed.custom_fields) {
        if (!customFieldsOn) throw new Error('fake Ghost: start it with customFields to seed custom_fields');
        for (const [field, value] of planCustomFields(seed.custom_fields)) {
          if (value !== undefined) member.customFields[field] = value;
        }
      }
      return presentRead(member);
    },
    member(email) {
      const found = findByEmail(email);
      return found && presentRead(found);
    },
    members() {
      return [...members.values()].map(presentRead);
    },
    setDown(value) {
      down = value;
    },
    failNext(status, times = 1) {
      if (times > 0) failures.push({ status, remaining: times });
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // keep-alive sockets would otherwise hold close() open
      });
    },
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve(fake);
    });
  });
}
