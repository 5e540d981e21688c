// Minimal types for @tryghost/admin-api 1.x (which ships none), covering the members endpoints.
declare module '@tryghost/admin-api' {
  namespace GhostAdminAPI {
    interface Options {
      /** Site or admin URL without a trailing slash, e.g. https://example.com */
      url: string;
      /** Admin API key, "<24-hex id>:<64-hex secret>". */
      key: string;
      /** "v6.0" style; sent as Accept-Version. v5 and later use the unversioned /ghost/api/admin/ path. */
      version: string | boolean;
      ghostPath?: string;
      userAgent?: string | boolean;
      /** Replaces the token the client signs for every request (audience is "/admin/" for v5+). */
      generateToken?: (key: string, audience: string) => string;
      makeRequest?: (request: {
        url: string;
        method: string;
        data?: unknown;
        params?: Record<string, unknown>;
        headers?: Record<string, string>;
      }) => Promise<unknown>;
    }

    /** Query parameters; arrays are joined with commas. */
    type Params = Record<string, string | number | boolean | Array<string | number> | undefined>;

    interface Pagination {
      page: number;
      limit: number | 'all';
      pages: number;
      total: number;
      next: number | null;
      prev: number | null;
    }

    interface Label {
      id: string;
      name: string;
      slug: string;
      created_at: string;
      updated_at: string;
    }

    interface Member {
      id: string;
      uuid: string;
      email: string;
      name: string | null;
      note: string | null;
      status: 'free' | 'paid' | 'comped' | 'gift';
      labels: Label[];
      created_at: string;
      updated_at: string;
      custom_fields?: Record<string, unknown>;
      [field: string]: unknown;
    }

    type LabelInput = string | { id?: string; name?: string; slug?: string | null };

    interface MemberInput {
      email?: string;
      name?: string;
      note?: string;
      subscribed?: boolean;
      labels?: LabelInput[];
      custom_fields?: Record<string, string | null>;
      [field: string]: unknown;
    }

    /** Browse results are arrays with the pagination meta attached. */
    type BrowseResult<T> = T[] & { meta: { pagination: Pagination } };

    interface MembersAPI {
      browse(params?: Params): Promise<BrowseResult<Member>>;
      /** Only `id` works against Ghost: `{email}` builds /members/email/<email>/, which Ghost does not route. */
      read(data: { id: string }, params?: Params): Promise<Member>;
      /** Note: the client deletes `id` from the object it is given. */
      edit(data: MemberInput & { id: string }, params?: Params): Promise<Member>;
      add(data: MemberInput & { email: string }, params?: Params): Promise<Member>;
      delete(data: { id: string }, params?: Params): Promise<unknown>;
    }

    interface Api {
      members: MembersAPI;
    }

    /**
     * What the client throws when Ghost answers with its JSON error body: the first entry of
     * `errors`, copied onto an Error whose `name` is the Ghost error type. It carries no HTTP
     * status. Other failures (network, non-Ghost bodies) are rethrown as axios errors.
     */
    interface GhostError extends Error {
      type: string;
      context: string | null;
      details: unknown;
      property: string | null;
      help: string | null;
      code: string | null;
      id: string | null;
      ghostErrorCode?: string | null;
    }
  }

  const GhostAdminAPI: {
    new (options: GhostAdminAPI.Options): GhostAdminAPI.Api;
    (options: GhostAdminAPI.Options): GhostAdminAPI.Api;
  };
  export default GhostAdminAPI;
}
