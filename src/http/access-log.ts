import type { RequestHandler } from 'express';
import type { Logger } from '../log.js';

/** Link tokens and OAuth codes live in URLs; the log only ever sees the route's shape. */
export function maskPath(path: string): string {
  return path.replace(/^\/link\/(?!new$)[^/]+/, '/link/:token');
}

export function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      log.info(
        { method: req.method, path: maskPath(req.path), status: res.statusCode, ms: Number((process.hrtime.bigint() - started) / 1_000_000n) },
        'request',
      );
    });
    next();
  };
}
