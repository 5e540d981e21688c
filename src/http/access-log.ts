import type { RequestHandler } from 'express';
import type { Logger } from '../log.js';

/** A run this long of token characters is opaque (a link token is 43): it is never logged, wherever it is. */
const OPAQUE = /[A-Za-z0-9_-]{32,}/;

/** Percent-decodes byte by byte, a few times over, and never fails: the log must see what the router may see. */
function decodeLoosely(segment: string): string {
  let out = segment;
  for (let i = 0; i < 3 && out.includes('%'); i++) {
    out = out.replace(/%([0-9a-fA-F]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  }
  return out;
}

/**
 * Link tokens and OAuth codes live in URLs; the log only ever sees the route's shape. Routing ignores case and
 * trailing slashes and decodes percent-escapes, so the masking does too: everything after a `link` segment,
 * however spelled, is `:token` (except `/link/new`), and any other segment that holds an opaque run is masked.
 */
export function maskPath(path: string): string {
  const segments = path.split('/');
  const decoded = segments.map((s) => decodeLoosely(s).toLowerCase());
  const at = decoded.indexOf('link');
  const rest = at === -1 ? [] : decoded.slice(at + 1).filter(Boolean);
  const kept = at === -1 || rest.length === 0 || (rest.length === 1 && rest[0] === 'new') ? segments : [...segments.slice(0, at + 1), ':token'];
  return kept.map((s) => (OPAQUE.test(decodeLoosely(s)) ? ':token' : s)).join('/');
}

export function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      log.info(
        { reqId: res.locals.reqId, method: req.method, path: maskPath(req.path), ip: req.ip, status: res.statusCode, ms: Number((process.hrtime.bigint() - started) / 1_000_000n) },
        'request',
      );
    });
    next();
  };
}
