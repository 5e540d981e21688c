import { silentLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Config } from '../../src/config.js';
import type { ServiceOverrides } from '../../src/services.js';

/** The real service on port 0, with fast retries. */
export function startTestServer(config: Config, overrides: ServiceOverrides = {}): Promise<RunningServer> {
  return startServer(config, { log: silentLogger(), retry: { baseDelayMs: 50, maxDelayMs: 400, pollMs: 200 }, ...overrides });
}

export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition', everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
