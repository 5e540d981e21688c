/**
 * Ghost Admin API through @tryghost/admin-api, with our own request function so that every call has a timeout and
 * every failure becomes an ArbiterError: unreachable, 5xx and 429 are retried; other refusals are final.
 */
import GhostAdminAPI from '@tryghost/admin-api';
import type { GhostConfig } from '../config.js';
import { ArbiterError, isArbiterError } from '../errors.js';
import { fetchJson } from '../net/fetch-json.js';

export type GhostMember = GhostAdminAPI.Member;

export interface GhostClient {
  findMemberByEmail(email: string): Promise<GhostMember | undefined>;
  /** The member as Ghost has it now; undefined once it no longer exists. */
  readMember(id: string): Promise<GhostMember | undefined>;
  editMember(id: string, changes: GhostAdminAPI.MemberInput): Promise<GhostMember>;
  /** One authenticated read (a page of one member): whether CMS_URL and CMS_ADMIN_KEY work. */
  ping(): Promise<void>;
}

function query(params: Record<string, unknown>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(([] as unknown[]).concat(v).join(','))}`)
    .join('&');
}

async function makeRequest(request: { url: string; method: string; data?: unknown; params?: Record<string, unknown>; headers?: Record<string, string> }): Promise<unknown> {
  const qs = query(request.params ?? {});
  const hasBody = request.data !== undefined && request.method.toUpperCase() !== 'GET';
  const { status, ok, body } = await fetchJson(
    qs ? `${request.url}?${qs}` : request.url,
    {
      method: request.method.toUpperCase(),
      headers: { ...request.headers, ...(hasBody ? { 'content-type': 'application/json' } : {}), accept: 'application/json' },
      body: hasBody ? JSON.stringify(request.data) : undefined,
    },
    { code: 'ghost_unavailable', message: 'Ghost could not be reached' },
  );
  if (ok) return body;
  const ghostError = (body as { errors?: { message?: string; context?: string | null; type?: string }[] } | undefined)?.errors?.[0];
  const detail = ghostError ? `${ghostError.type ?? 'Error'}: ${ghostError.message ?? ''}${ghostError.context ? ` (${ghostError.context})` : ''}` : `HTTP ${status}`;
  if (status >= 500 || status === 429 || status === 408) {
    throw new ArbiterError('ghost_unavailable', `Ghost answered ${status}: ${detail}`, { retryable: true });
  }
  throw new ArbiterError('ghost_rejected', `Ghost refused the request (${status}): ${detail}`, { details: { status } });
}

export function createGhostClient(config: GhostConfig): GhostClient {
  const api = new GhostAdminAPI({ url: config.url, key: config.adminKey, version: 'v6.0', makeRequest });
  return {
    async findMemberByEmail(email) {
      // NQL strings are single-quoted; a quote inside is escaped with a backslash.
      const filter = `email:'${email.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      const found = await api.members.browse({ filter, limit: 1 });
      return found[0];
    },
    async readMember(id) {
      try {
        return await api.members.read({ id });
      } catch (err) {
        if (isArbiterError(err) && (err.details as { status?: number } | undefined)?.status === 404) return undefined;
        throw err;
      }
    },
    editMember: (id, changes) => api.members.edit({ ...changes, id }),
    async ping() {
      await api.members.browse({ limit: 1 });
    },
  };
}
