/**
 * The SMTP server the mail goes to, in its own process: stand-ins/smtp.ts (the tests' real SMTP server, smtp-server
 * with every message parsed and kept). A phase marks where counting starts; waiting for it gives the time of its
 * first and last message, who each message went to, and the CPU this process used meanwhile.
 */
import { startSmtp } from '../../stand-ins/smtp.js';
import { serve } from './rpc.js';
import { monoUs, wallMs } from './time.js';

export interface SmtpPhase {
  expected: number;
  received: number;
  /** When the phase's first and its expected-th message were acknowledged (wallMs); null if they never came. */
  firstAt: number | null;
  lastAt: number | null;
  /** lastAt on the monotonic clock. */
  lastMonoUs: number | null;
  recipients: string[];
  cpuSeconds: number;
  errors: string[];
}

const smtp = await startSmtp();
interface Moment {
  wall: number;
  mono: number;
}
let phase: { mark: number; expected: number; cpu: NodeJS.CpuUsage; errors: number; first: Promise<Moment | null>; last: Promise<Moment | null> } | undefined;

const at = (count: number, timeoutMs: number) =>
  smtp.waitFor(count, timeoutMs).then(
    (): Moment => ({ wall: wallMs(), mono: monoUs() }),
    () => null,
  );

serve({
  port: () => smtp.port,
  /** From now on, count messages; `timeoutMs` bounds the wait for the expected number. */
  start({ expected, timeoutMs }: { expected: number; timeoutMs: number }) {
    const mark = smtp.messages.length;
    phase = { mark, expected, cpu: process.cpuUsage(), errors: smtp.errors.length, first: at(mark + 1, timeoutMs), last: at(mark + expected, timeoutMs) };
    return null;
  },
  /** Waits for the expected number (or the timeout), then a moment for any extra message (a duplicate) to arrive. */
  async finish({ settleMs }: { settleMs: number }): Promise<SmtpPhase> {
    if (!phase) throw new Error('no phase started');
    const { mark, expected } = phase;
    const [first, last] = await Promise.all([phase.first, phase.last]);
    await new Promise((r) => setTimeout(r, settleMs));
    const cpu = process.cpuUsage(phase.cpu);
    const messages = smtp.messages.slice(mark);
    const errors = smtp.errors.slice(phase.errors).map((e) => e.message);
    phase = undefined;
    // The parsed messages are no longer needed; keeping them would only grow this process.
    for (let i = mark; i < smtp.messages.length; i++) smtp.messages[i]!.raw = Buffer.alloc(0);
    return { expected, received: messages.length, firstAt: first?.wall ?? null, lastAt: last?.wall ?? null, lastMonoUs: last?.mono ?? null, recipients: messages.map((m) => m.to), cpuSeconds: (cpu.user + cpu.system) / 1e6, errors };
  },
});
