import type { RequestHandler } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';

export interface ProtocolCheck {
  middleware: RequestHandler;
  /** What is wrong, once a request showed it; null while nothing is known to be wrong. */
  problem(): string | null;
}

/**
 * With an https APP_URL, a request that Express sees as http means nginx does not send X-Forwarded-Proto or
 * TRUST_PROXY does not trust nginx. The session cookie is Secure, so the browser never sends it back over what
 * Arbiter believes is http, and every sign-in fails without another clue. Said once, at the first such request.
 */
export function protocolCheck(config: Pick<Config, 'secureCookies' | 'trustProxy'>, log: Logger): ProtocolCheck {
  let problem: string | null = null;
  const middleware: RequestHandler = (req, _res, next) => {
    if (problem === null && config.secureCookies && req.protocol === 'http') {
      problem =
        'APP_URL is https but requests arrive as http: sign-in cannot work, because the Secure session cookie is never ' +
        'sent back. nginx must send X-Forwarded-Proto ($scheme) and TRUST_PROXY must trust nginx ' +
        '(loopback when nginx runs on this machine).';
      log.warn(
        { trustProxy: config.trustProxy, forwardedProto: req.get('x-forwarded-proto') ?? null, peer: req.socket.remoteAddress ?? null },
        problem,
      );
    }
    next();
  };
  return { middleware, problem: () => problem };
}
