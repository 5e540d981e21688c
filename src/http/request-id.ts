/**
 * Every request gets an id that its log lines carry and its answer echoes in X-Request-Id. nginx sends its own
 * ($request_id, 32 hex), so that its access log and ours can be matched; an id that is missing or not made of a
 * short, safe set of characters is replaced by a fresh one rather than written into the log.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../log.js';

const SAFE_ID = /^[A-Za-z0-9._-]{8,64}$/;

export function requestId(log: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given !== undefined && SAFE_ID.test(given) ? given : randomUUID();
    res.locals.reqId = id;
    res.locals.log = log.child({ reqId: id });
    res.setHeader('X-Request-Id', id);
    next();
  };
}

/** The logger whose lines carry this request's id; `fallback` outside requestId's reach. */
export function requestLog(res: Response, fallback: Logger): Logger {
  return (res.locals.log as Logger | undefined) ?? fallback;
}
