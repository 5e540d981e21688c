/**
 * Who may read what is meant for the operators (the details of /health, /metrics): a request from this machine, or
 * one that carries METRICS_TOKEN as a bearer token. "This machine" is judged by req.ip, so after TRUST_PROXY: a
 * request that came through nginx is not.
 */
import type { Request } from 'express';
import { isLoopback } from '../net/loopback.js';
import { equalSecret, sha256Hex } from '../secure-compare.js';

export function localOrToken(req: Request, metricsToken: string | null): boolean {
  if (isLoopback(req.ip)) return true;
  const given = bearerToken(req);
  // Digests have one length whatever was sent, so the comparison takes the same time for every wrong token.
  return Boolean(metricsToken && given && equalSecret(sha256Hex(given), sha256Hex(metricsToken)));
}

/** The token of an `Authorization: Bearer <token>` header, if the request has one. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '')?.[1];
}
