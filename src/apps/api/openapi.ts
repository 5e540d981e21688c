/** The OpenAPI 3.1 document of /api/v1, generated from the table of endpoints and their zod schemas. */
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { API_RATE_LIMIT, type Endpoint } from './endpoints.js';
import { ErrorBody } from './schemas.js';

const SCHEME = 'apiKey';

const WORDS: Record<number, string> = {
  400: 'The request is not valid (details lists each problem), or the action refused it. Nothing was changed.',
  401: 'No API key, or one that is unknown or revoked.',
  403: 'A read key on a route that changes something. Nothing was changed.',
  404: 'No such member, subscription or grant.',
  409: 'The change is not possible in the present state. Nothing was changed.',
  415: 'The body is not JSON.',
  429: `More than ${API_RATE_LIMIT} requests in a minute with this key.`,
  503: 'Discord could not be asked. Nothing was changed.',
};

const header = (description: string) => ({ description, schema: { type: 'string' as const } });

function error(status: number): ResponseConfig {
  const headers: Record<string, ReturnType<typeof header>> | undefined =
    status === 401 || status === 403
      ? { 'WWW-Authenticate': header('Bearer, with error="invalid_token" or error="insufficient_scope" as RFC 6750 says') }
      : status === 429
        ? { RateLimit: header('what is left of the window'), 'RateLimit-Policy': header('the limit and the window'), 'Retry-After': header('seconds to wait') }
        : undefined;
  return { description: WORDS[status]!, ...(headers ? { headers } : {}), content: { 'application/json': { schema: ErrorBody } } };
}

export function openApiDocument(endpoints: Endpoint[], version: string): object {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key made with `arbiter api-key create --name NAME --scope read|write`, sent as `Authorization: Bearer arb_...`. A read key may call every GET; changes need a write key.',
  });
  for (const e of endpoints) {
    const statuses = [400, 401, ...e.errors, ...(e.method === 'post' ? [415] : []), 429].sort((a, b) => a - b);
    registry.registerPath({
      method: e.method,
      path: e.path,
      operationId: `${e.method}${e.path.replace(/\{(\w+)\}/g, 'By-$1').replace(/[/-](\w)/g, (_m, c: string) => c.toUpperCase())}`,
      summary: e.summary,
      ...(e.description ? { description: e.description } : {}),
      security: [{ [SCHEME]: e.scope === 'write' ? ['write'] : [] }],
      request: {
        ...(e.params ? { params: e.params } : {}),
        ...(e.query ? { query: e.query } : {}),
        ...(e.body ? { body: { required: true, content: { 'application/json': { schema: e.body } } } } : {}),
      },
      responses: {
        200: { description: 'Done.', content: { 'application/json': { schema: e.answer } } },
        ...Object.fromEntries([...new Set(statuses)].map((status) => [status, error(status)])),
      },
    });
  }
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenapiJson',
    summary: 'This document; no key needed',
    security: [],
    responses: { 200: { description: 'The OpenAPI document of /api/v1.', content: { 'application/json': { schema: z.looseObject({ openapi: z.string() }) } } } },
  });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Arbiter API',
      version,
      description: 'Who holds which tier, and the admin actions, for bots and scripts. Errors are always `{"error": {"code", "message", "details"}}`.',
    },
    servers: [{ url: '/api/v1' }],
  });
}
