/** Milliseconds since 1970 with sub-millisecond resolution, comparable between the processes of one benchmark. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Microseconds on the monotonic clock (CLOCK_MONOTONIC on Linux), the clock of V8's CPU profiles in every process:
 * marks taken with it cut a child's profile to the measured window.
 */
export function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
