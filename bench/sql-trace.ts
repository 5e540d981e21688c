/**
 * Loaded with --import into an Arbiter under benchmark when BENCH_SQL_TRACE names a file: the first run of each
 * distinct SQL statement is appended to that file as one JSON line (the SQL and the parameters it was run with), so
 * that the benchmark can print the query plan of every statement a page or a delivery really used. A statement run
 * again with other parameters left NULL (`@x IS NULL OR ...` filters) counts as another one: it may do other work.
 * The cost is one Set lookup per statement run.
 */
import Database from 'better-sqlite3';
import { appendFileSync } from 'node:fs';

/** What tells two runs of one statement apart: its SQL and which of its parameters are NULL. */
export function statementKey(sql: string, args: unknown[]): string {
  const nulls = args.map((a) =>
    a === null ? 'N' : a && typeof a === 'object' ? Object.entries(a).map(([k, v]) => (v === null ? k : '')).join(',') : '-',
  );
  return `${sql}\u0000${nulls.join('|')}`;
}

const file = process.env.BENCH_SQL_TRACE;
if (file) {
  const probe = new Database(':memory:');
  const statement = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  const seen = new Set<string>();
  const line = (sql: string, args: unknown[]) =>
    `${JSON.stringify({ sql, args }, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value))}\n`;
  for (const method of ['run', 'get', 'all', 'iterate']) {
    const original = statement[method] as (...args: unknown[]) => unknown;
    statement[method] = function (this: { source: string }, ...args: unknown[]) {
      const key = statementKey(this.source, args);
      if (!seen.has(key)) {
        seen.add(key);
        appendFileSync(file, line(this.source, args));
      }
      return original.apply(this, args);
    };
  }
}
