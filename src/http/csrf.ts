import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ArbiterError } from '../errors.js';
import { equalSecret } from '../secure-compare.js';

/** The session's CSRF token, made on first use; every state-changing form carries it as `_csrf`, scripts as X-CSRF-Token. */
export function csrfToken(req: Request): string {
  if (!req.session.csrf) req.session.csrf = randomBytes(32).toString('base64url');
  return req.session.csrf;
}

export const requireCsrf: RequestHandler = (req, _res, next) => {
  const expected = req.session?.csrf;
  const header = req.get('x-csrf-token');
  const given = header ?? (typeof req.body?._csrf === 'string' ? req.body._csrf : '');
  const ok = expected !== undefined && equalSecret(given, expected);
  if (!ok) throw new ArbiterError('csrf_failed', 'This form has expired or did not come from this site. Go back, reload the page and try again.', { status: 403 });
  next();
};
