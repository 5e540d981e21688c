import { Reason } from '../admin/input.js';

export const DEFAULT_REASON = 'asked for on the command line';

/** --reason TEXT, held to the panel's rules (3 to 500 characters); a default when it is not given. */
export function reasonOption(value: unknown): { value: string } | { problem: string } {
  if (value === undefined) return { value: DEFAULT_REASON };
  const parsed = Reason.safeParse(value);
  return parsed.success ? { value: parsed.data } : { problem: `--reason: ${parsed.error.issues[0]!.message}` };
}
