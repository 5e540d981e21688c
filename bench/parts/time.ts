/** Milliseconds since 1970 with sub-millisecond resolution, comparable between the processes of one benchmark. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
