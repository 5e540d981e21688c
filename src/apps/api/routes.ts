/**
 * /api/v1: JSON for bots and scripts, with `Authorization: Bearer <API key>`. No session and no CSRF token: a key is
 * sent on purpose by a program, never by a browser on its own, and no cookie is set. Routed before sessions. In
 * order: the key (401), its rate limit (429), its scope (403), the body (415), the input (400), then the use case.
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { z } from 'zod';
import { ArbiterError, errorBody } from '../../errors.js';
import { notFound } from '../../http/errors.js';
import { bearerToken } from '../../http/local-or-token.js';
import type { Services } from '../../services.js';
import { apiActing, createApiKeys, type ApiKey } from '../api-keys.js';
import { API_RATE_LIMIT, ENDPOINTS, type Endpoint } from './endpoints.js';
import { openApiDocument } from './openapi.js';

export const API_BASE = '/api/v1';
const REALM = 'Bearer realm="arbiter"';

const keyOf = (res: Response) => res.locals.apiKey as ApiKey;

function authenticate(services: Services): RequestHandler {
  const keys = createApiKeys(services);
  return async (req, res, next) => {
    const presented = bearerToken(req);
    if (presented === undefined) {
      res.set('WWW-Authenticate', REALM);
      throw new ArbiterError('not_signed_in', 'Send an API key as "Authorization: Bearer <key>". Keys are made with "arbiter api-key create".', { status: 401 });
    }
    const apiKey = keys.verify(presented);
    if (!apiKey) {
      res.set('WWW-Authenticate', `${REALM}, error="invalid_token"`);
      throw new ArbiterError('not_signed_in', 'This API key is not valid: it is unknown or was revoked.', { status: 401 });
    }
    res.locals.apiKey = apiKey;
    if (keys.useIsStale(apiKey)) await services.commits.run(() => keys.touch(apiKey));
    next();
  };
}

function requireScope(e: Endpoint): RequestHandler {
  return (_req, res, next) => {
    if (e.scope === 'write' && keyOf(res).scope !== 'write') {
      res.set('WWW-Authenticate', `${REALM}, error="insufficient_scope", scope="write"`);
      throw new ArbiterError('forbidden', `The API key "${keyOf(res).name}" may only read; this needs a write key. Nothing was changed.`, { status: 403 });
    }
    next();
  };
}

/** A body must be JSON; none at all counts as an empty object (whose missing fields are then listed). */
const jsonBody: RequestHandler[] = [
  (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    if (hasBody && !req.is(['application/json', '+json'])) {
      throw new ArbiterError('unsupported_media_type', 'The body must be JSON, sent with Content-Type: application/json. Nothing was changed.', { status: 415 });
    }
    next();
  },
  express.json({ limit: '16kb', type: ['application/json', '+json'] }),
];

interface Problem {
  in: 'path' | 'query' | 'body';
  field: string | null;
  message: string;
}

function problemsOf(where: Problem['in'], error: z.ZodError): Problem[] {
  return error.issues.flatMap((issue): Problem[] => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ in: where, field: key, message: `Unknown field: ${key}.` }));
    const field = issue.path.length > 0 ? issue.path.join('.') : null;
    if (where === 'body' && field === null) return [{ in: where, field, message: 'The body must be a JSON object.' }];
    return [{ in: where, field, message: issue.message }];
  });
}

/** Checks the path, query and body against the endpoint's schemas: every problem at once, or the parsed input. */
function validate(e: Endpoint, req: Request): Parameters<Endpoint['handle']>[0] {
  const parts = [
    ['path', e.params, req.params],
    ['query', e.query, req.query],
    ['body', e.body, e.method === 'post' ? (req.body ?? {}) : undefined],
  ] as const;
  const problems: Problem[] = [];
  const parsed: Record<string, unknown> = {};
  for (const [where, schema, raw] of parts) {
    // A route without a schema for a part takes nothing there: an unknown query parameter is a mistake worth telling.
    if (!schema) {
      const given = raw && typeof raw === 'object' ? Object.keys(raw) : [];
      problems.push(...given.map((key) => ({ in: where, field: key, message: `Unknown field: ${key}.` })));
      continue;
    }
    const result = schema.safeParse(raw);
    if (result.success) parsed[where] = result.data;
    else problems.push(...problemsOf(where, result.error));
  }
  if (problems.length > 0) {
    throw new ArbiterError('bad_request', `The request is not valid: ${[...new Set(problems.map((p) => p.message))].join(' ')} Nothing was changed.`, { status: 400, details: problems });
  }
  return { params: parsed.path, query: parsed.query, body: parsed.body } as Parameters<Endpoint['handle']>[0];
}

export function apiRoutes(services: Services): Router {
  const router = Router();
  // Made at the first request for it, not at every start.
  let document: object | undefined;
  router.get(`${API_BASE}/openapi.json`, (_req, res) => void res.json((document ??= openApiDocument(ENDPOINTS, services.version))));

  const limit = rateLimit({
    windowMs: 60_000,
    limit: API_RATE_LIMIT,
    keyGenerator: (_req, res) => `key:${keyOf(res).id}`,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => {
      res.status(429).json(errorBody(new ArbiterError('rate_limited', `This API key made more than ${API_RATE_LIMIT} requests in a minute. Wait as long as Retry-After says, then go on.`)));
    },
  });
  router.use(API_BASE, authenticate(services), limit);

  for (const e of ENDPOINTS) {
    const path = API_BASE + e.path.replace(/\{(\w+)\}/g, ':$1');
    const body = e.method === 'post' ? jsonBody : [];
    router[e.method](path, requireScope(e), ...body, async (req: Request, res: Response) => {
      const input = validate(e, req);
      res.json(await e.handle(input, { services, acting: apiActing(keyOf(res)) }));
    });
  }
  // Everything else under /api/v1 is answered here, in JSON, and never reaches the session middleware.
  router.use(API_BASE, notFound);
  return router;
}
