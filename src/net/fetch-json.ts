import { ArbiterError, type ErrorCode } from '../errors.js';

export interface JsonAnswer {
  status: number;
  ok: boolean;
  /** The parsed body, or undefined when it is empty or not JSON. */
  body: unknown;
}

/**
 * fetch with a timeout that reads the answer as JSON when it is JSON. A service that cannot be reached is a
 * retryable ArbiterError with the caller's code; what a reachable service answered is for the caller to judge.
 */
export async function fetchJson(url: string, init: RequestInit, unreachable: { code: ErrorCode; message: string }, timeoutMs = 10_000): Promise<JsonAnswer> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new ArbiterError(unreachable.code, `${unreachable.message}: ${(err as Error).message}`, { status: 502, retryable: true, cause: err });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, ok: res.ok, body };
}
