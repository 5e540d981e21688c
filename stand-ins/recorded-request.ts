/** One HTTP request a stand-in received, as tests inspect it. */
export interface RecordedRequest {
  method: string;
  /** The full path as requested, e.g. /api/v10/users/@me (without the query string). */
  path: string;
  /** The raw query string, without the leading "?". */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}
