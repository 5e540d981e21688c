import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ArbiterError, errorBody, isArbiterError } from '../errors.js';
import type { Logger } from '../log.js';
import { messagePage } from '../views/document.js';
import { requestLog } from './request-id.js';

/** Errors thrown by the body parsers, mapped to our codes. */
function fromBodyParser(err: { type?: string; status?: number }): ArbiterError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new ArbiterError('payload_too_large', 'the body is larger than allowed', { status: 413 });
    case 'entity.parse.failed':
      return new ArbiterError('bad_request', 'the body could not be parsed', { status: 400 });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ArbiterError('unsupported_media_type', 'the body encoding is not supported', { status: 415 });
    case 'request.aborted':
      return new ArbiterError('bad_request', 'the request was aborted', { status: 400 });
    default:
      return undefined;
  }
}

/**
 * The router could not percent-decode a path parameter (Express 5 throws a URIError with status 400 for every
 * route): the address is garbled, and only the client can fix it. Its message quotes the raw parameter, so it is
 * replaced rather than logged.
 */
function fromRouter(err: unknown): ArbiterError | undefined {
  if (!(err instanceof URIError) || (err as { status?: number }).status !== 400) return undefined;
  return new ArbiterError('bad_request', 'This address is not valid: part of it could not be read. If you copied it from an email, copy the whole link again.', { status: 400 });
}

export const notFound: RequestHandler = () => {
  throw new ArbiterError('not_found', 'There is nothing at this address.', { status: 404 });
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = isArbiterError(err) ? err : (fromBodyParser(err as { type?: string }) ?? fromRouter(err));
    const error = known ?? new ArbiterError('internal', 'Something went wrong on our side. Please try again later.');
    if (!known) requestLog(res, log).error({ err, method: req.method }, 'unhandled error');
    if (res.headersSent) return;
    res.status(error.status);
    const wantsJson = req.path.startsWith('/webhook') || req.path.startsWith('/api/') || req.path === '/health' || !req.accepts('html');
    if (wantsJson) res.json(errorBody(error));
    else res.type('html').send(messagePage(error.status >= 500 ? 'Something went wrong' : 'That did not work', error.message));
  };
}
