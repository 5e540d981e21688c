/**
 * Webhook intake throughput: signed deliveries posted to the real server (port 0, temp dir, synchronous=FULL),
 * at several concurrencies. Run: npm run bench
 */
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { tempDir, testConfig, WEBHOOK_SECRET } from '../test/support/config.js';
import { eventBody, standardHeaders } from '../test/support/webhooks.js';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 2000);

async function run(concurrency: number): Promise<void> {
  const dir = tempDir('arbiter-bench-');
  // Mail goes to the outbox directory; the worker is part of what is measured, as in production.
  const app = await startServer(testConfig(dir.path, { NODE_ENV: 'development' }), { log: silentLogger() });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < TOTAL) {
        const i = next++;
        const body = eventBody({ subscription_id: `sub_${i}`, customer_email: `u${i}@example.com` });
        const t0 = performance.now();
        const res = await fetch(`${app.url}/webhook/billing`, { method: 'POST', headers: standardHeaders(WEBHOOK_SECRET, body), body });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
  console.log(`concurrency ${String(concurrency).padStart(3)}: ${(TOTAL / seconds).toFixed(0).padStart(5)} webhooks/s  p50 ${pct(50)} ms  p99 ${pct(99)} ms`);
  await app.stop();
  dir.remove();
}

for (const c of [1, 8, 32]) await run(c);
