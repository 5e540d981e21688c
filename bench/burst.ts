/**
 * Burst to inbox: 10,000 `subscription.created` webhooks posted to Arbiter as fast as it accepts them, and the time
 * until the SMTP server has acknowledged all 10,000 link emails; then, in the same run and to the same SMTP server,
 * the same number of link emails (Arbiter's template, the same size) sent by nodemailer's pool alone with the
 * connection count Arbiter's mailer uses. Each runs in its own process: Arbiter, the load generator (autocannon),
 * the SMTP server (stand-ins/smtp.ts, recording every recipient), the bare mailer. Every recipient is checked:
 * none lost, none twice.
 *
 * Run: npm run bench:burst
 * Environment: BENCH_BURST (10000), BENCH_CONNECTIONS (32), BENCH_TIMEOUT (s to wait for the mail, 600),
 * BENCH_PROFILE (auto: profile Arbiter when the target is missed; 1: always; 0: never), BENCH_COMPARE (a git
 * revision: Arbiter as it was there runs the same burst too, in the same run, to measure a change before and after).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../test/support/config.js';
import { APP_URL, arbiterAt, arbiterCounts, EMAIL_FROM, startArbiter, WEBHOOK_SECRET, type ArbiterCopy, type ArbiterCounts } from './parts/arbiter.js';
import type { BareResult, BareSend } from './parts/bare-mailer.js';
import { formatProfile, profileIn, summariseProfile, type ProfileSummary } from './parts/cpuprofile.js';
import type { LoadPhase, LoadPlan, LoadResult } from './parts/load.js';
import { cpuSeconds, path, startHelper, type HelperChild, type ServerChild } from './parts/processes.js';
import { envChoice, envNumber, fixed, machine, table, uptime, writeResults } from './parts/report.js';
import type { SmtpPhase } from './parts/smtp-sink.js';

const BURST = envNumber('BENCH_BURST', 10_000, 1);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 32, 1);
const TIMEOUT_MS = envNumber('BENCH_TIMEOUT', 600, 1) * 1000;
const PROFILE = envChoice('BENCH_PROFILE', ['auto', '1', '0'], 'auto');
const COMPARE = process.env.BENCH_COMPARE || undefined;
if (CONNECTIONS > BURST) throw new Error('BENCH_CONNECTIONS must not be more than BENCH_BURST');
const TARGET = 0.8;
/** After the last expected message, how long to keep listening for one sent twice. */
const SETTLE_MS = 2_000;

interface Delivery {
  expected: number;
  received: number;
  lost: number;
  twice: number;
  unexpected: number;
  /** Start (the first webhook or sendMail) to the last message acknowledged. */
  seconds: number | null;
  emailsPerSecond: number | null;
  smtpCpuSeconds: number;
  smtpErrors: string[];
}

function check(expected: string[], phase: SmtpPhase, startedAt: number): Delivery {
  const want = new Set(expected);
  const got = new Map<string, number>();
  for (const to of phase.recipients) got.set(to, (got.get(to) ?? 0) + 1);
  const complete = phase.lastAt !== null;
  const seconds = complete ? (phase.lastAt! - startedAt) / 1000 : null;
  return {
    expected: expected.length,
    received: phase.received,
    lost: [...want].filter((to) => !got.has(to)).length,
    twice: [...got.values()].filter((n) => n > 1).length,
    unexpected: [...got.keys()].filter((to) => !want.has(to)).length,
    seconds,
    emailsPerSecond: seconds === null ? null : expected.length / seconds,
    smtpCpuSeconds: phase.cpuSeconds,
    smtpErrors: phase.errors.slice(0, 10),
  };
}

interface ArbiterBurst {
  intake: LoadPhase;
  mail: Delivery;
  /** From the first webhook sent to the first email acknowledged. */
  firstEmailAfterSeconds: number | null;
  /** From the last webhook answered to the last email acknowledged. */
  drainAfterIntakeSeconds: number | null;
  serverCpuSeconds: number | null;
  database: ArbiterCounts;
  profile?: ProfileSummary;
}

async function arbiterBurst(smtp: HelperChild, smtpPort: number, tag: string, options: { copy?: ArbiterCopy; profile?: boolean } = {}): Promise<ArbiterBurst> {
  const dir = tempDir('arbiter-bench-burst-');
  const profileDir = options.profile ? mkdtempSync(join(tmpdir(), 'arbiter-bench-profile-')) : undefined;
  let server: ServerChild | undefined;
  let load: HelperChild | undefined;
  try {
    server = await startArbiter(dir.path, smtpPort, { copy: options.copy, cpuProfDir: profileDir });
    load = startHelper(path('bench/parts/load.ts'));
    const cpu0 = cpuSeconds(server.pid);
    await smtp.remote.call('start', { expected: BURST, timeoutMs: TIMEOUT_MS });
    const plan: LoadPlan = { url: server.url, connections: CONNECTIONS, warmupSeconds: 0, amount: BURST, pool: BURST + CONNECTIONS * 2, secret: WEBHOOK_SECRET, tag, keepAccepted: true };
    const result = await load.remote.call<LoadResult>('run', plan);
    const phase = await smtp.remote.call<SmtpPhase>('finish', { settleMs: SETTLE_MS });
    const cpu1 = cpuSeconds(server.pid);
    await server.stop();
    const intake = result.measured;
    return {
      intake,
      mail: check(result.acceptedEmails!, phase, intake.startedAt),
      firstEmailAfterSeconds: phase.firstAt === null ? null : (phase.firstAt - intake.startedAt) / 1000,
      drainAfterIntakeSeconds: phase.lastAt === null ? null : (phase.lastAt - intake.endedAt) / 1000,
      serverCpuSeconds: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
      database: arbiterCounts(dir.path),
      ...(profileDir
        ? { profile: summariseProfile(profileIn(profileDir), { top: 20, window: [intake.startedMonoUs, phase.lastMonoUs ?? Infinity], items: { count: BURST, what: 'email' } }) }
        : {}),
    };
  } catch (err) {
    if (server) process.stderr.write(`Arbiter said:\n${server.stderr()}\n`);
    throw err;
  } finally {
    await load?.stop();
    await server?.stop();
    dir.remove();
  }
}

interface BareBurst {
  maxConnections: number;
  messageBytes: number;
  failed: string[];
  mail: Delivery;
  senderCpuSeconds: number | null;
}

async function bareBurst(smtp: HelperChild, smtpPort: number, tag: string): Promise<BareBurst> {
  const mailer = startHelper(path('bench/parts/bare-mailer.ts'));
  try {
    const cpu = [0, 0];
    mailer.remote.on('measuring', () => (cpu[0] = cpuSeconds(mailer.process.pid) ?? NaN));
    mailer.remote.on('measured', () => (cpu[1] = cpuSeconds(mailer.process.pid) ?? NaN));
    await smtp.remote.call('start', { expected: BURST, timeoutMs: TIMEOUT_MS });
    const send: BareSend = { port: smtpPort, count: BURST, from: EMAIL_FROM, appUrl: APP_URL, tag };
    const result = await mailer.remote.call<BareResult>('send', send);
    const phase = await smtp.remote.call<SmtpPhase>('finish', { settleMs: SETTLE_MS });
    const expected = Array.from({ length: BURST }, (_, i) => `${tag}-${i}@bench.example`);
    return {
      maxConnections: result.maxConnections,
      messageBytes: result.messageBytes,
      failed: result.failed,
      mail: check(expected, phase, result.startedAt),
      senderCpuSeconds: Number.isFinite(cpu[1]! - cpu[0]!) ? cpu[1]! - cpu[0]! : null,
    };
  } finally {
    await mailer.stop();
  }
}

const started = new Date();
const host = machine();
const before = uptime();
console.log(`Burst to inbox: ${BURST} webhooks over ${CONNECTIONS} connections, then the same number of emails from a bare nodemailer pool`);
console.log(`${host.nproc} CPUs (${host.cpu}), ${host.ramGiB} GiB, Node ${host.node}; before: ${before}\n`);

const runTag = `b${started.getTime().toString(36)}`;
const earlier = COMPARE ? arbiterAt(COMPARE) : undefined;
const smtp = startHelper(path('bench/parts/smtp-sink.ts'));
try {
  const smtpPort = await smtp.remote.call<number>('port');
  const arbiter = await arbiterBurst(smtp, smtpPort, `${runTag}a`);
  console.log(`Arbiter: ${fixed(arbiter.mail.emailsPerSecond)} emails/s end to end`);
  let compared: (ArbiterBurst & { commit: string }) | undefined;
  if (earlier) {
    compared = { commit: earlier.commit, ...(await arbiterBurst(smtp, smtpPort, `${runTag}c`, { copy: earlier })) };
    console.log(`Arbiter at ${earlier.commit.slice(0, 8)}: ${fixed(compared.mail.emailsPerSecond)} emails/s end to end`);
  }
  const bare = await bareBurst(smtp, smtpPort, `${runTag}n`);
  console.log(`bare nodemailer pool: ${fixed(bare.mail.emailsPerSecond)} emails/s`);

  const ratioOf = (a: ArbiterBurst) => (a.mail.emailsPerSecond ?? 0) / (bare.mail.emailsPerSecond ?? Infinity);
  const ratio = ratioOf(arbiter);
  const met = ratio >= TARGET;
  const row = (name: string, d: Delivery, senderCpu: number | null, r: number | null) => [
    name, d.expected, d.received, d.lost, d.twice, d.unexpected, fixed(d.seconds, 2), fixed(d.emailsPerSecond), r === null ? '' : r.toFixed(2), fixed(senderCpu, 1),
    fixed(senderCpu === null ? null : (senderCpu * 1000) / d.expected, 2), fixed(d.smtpCpuSeconds, 1),
  ];
  console.log(
    `\n${table(
      ['sender', 'expected', 'received', 'lost', 'twice', 'unexpected', 'seconds', 'emails/s', 'vs bare pool', 'sender CPU s', 'sender CPU ms/email', 'SMTP server CPU s'],
      [
        row('Arbiter (webhook to inbox)', arbiter.mail, arbiter.serverCpuSeconds, ratio),
        ...(compared ? [row(`Arbiter at ${compared.commit.slice(0, 8)} (webhook to inbox)`, compared.mail, compared.serverCpuSeconds, ratioOf(compared))] : []),
        row(`bare nodemailer pool (${bare.maxConnections} connections)`, bare.mail, bare.senderCpuSeconds, null),
      ],
    )}\n`,
  );
  console.log(`Arbiter / bare pool: ${ratio.toFixed(2)} (target at least ${TARGET}: ${met ? 'met' : 'missed'})`);
  for (const [name, a] of [['Arbiter', arbiter], ...(compared ? [[`Arbiter at ${compared.commit.slice(0, 8)}`, compared] as const] : [])] as const) {
    const i = a.intake;
    console.log(
      `${name}: intake ${i.accepted} accepted of ${BURST} in ${i.seconds.toFixed(2)} s (${fixed(i.requestsPerSecond)} webhooks/s, p50 ${fixed(i.latencyMs.p50)} ms, p99 ${fixed(i.latencyMs.p99)} ms);` +
        ` first email after ${fixed(a.firstEmailAfterSeconds, 2)} s, the last ${fixed(a.drainAfterIntakeSeconds, 2)} s after the last webhook was answered;` +
        ` link_email jobs ${JSON.stringify(a.database.linkEmailJobs)}, ${a.database.linkEmailed} link.emailed audit entries`,
    );
    for (const [answer, n] of Object.entries(i.other)) console.log(`${name} answered ${n} times: ${answer}`);
    for (const { error, n } of a.database.linkEmailErrors) console.log(`${name}: ${n} link_email jobs last failed with: ${error}`);
    if (a.mail.smtpErrors.length) console.log(`SMTP server errors during ${name}: ${a.mail.smtpErrors.join('; ')}`);
  }
  console.log(`Bare pool: message ${bare.messageBytes} bytes of text + HTML, ${bare.failed.length} sends failed${bare.failed.length ? `: ${bare.failed.join('; ')}` : ''}`);
  if (bare.mail.smtpErrors.length) console.log(`SMTP server errors during the bare pool: ${bare.mail.smtpErrors.join('; ')}`);

  let profiled: ArbiterBurst | undefined;
  if (PROFILE === '1' || (PROFILE === 'auto' && !met)) {
    console.log('\nProfiling Arbiter (the burst again, with --cpu-prof; its figures are slowed by the profiler and not counted):');
    profiled = await arbiterBurst(smtp, smtpPort, `${runTag}p`, { profile: true });
    console.log(`${fixed(profiled.mail.emailsPerSecond)} emails/s while profiled; Arbiter used ${fixed(profiled.serverCpuSeconds, 1)} s of CPU in ${fixed(profiled.mail.seconds, 1)} s`);
    console.log(formatProfile(profiled.profile!));
  }

  const after = uptime();
  console.log(`\nafter: ${after}`);
  const file = writeResults('burst', {
    benchmark: 'burst to inbox',
    date: started.toISOString(),
    machine: host,
    uptime: { before, after },
    settings: { burst: BURST, connections: CONNECTIONS, poolMaxConnections: bare.maxConnections, smtp: 'stand-ins/smtp.ts in its own process' },
    arbiter,
    ...(compared ? { compared } : {}),
    bare,
    ratio,
    ...(compared ? { comparedRatio: ratioOf(compared) } : {}),
    target: { arbiterToBarePoolAtLeast: TARGET, met },
    ...(profiled ? { profiled } : {}),
  });
  console.log(`results written to ${file}`);
} finally {
  await smtp.stop();
  earlier?.remove();
}
