/** Reading a DATA_DIR from outside: whole tables to compare before and after, and raw bytes to search. */
import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every row of every table, in rowid (or primary key) order; a file that does not exist is an empty object. */
export function dumpDatabase(file: string): Record<string, unknown[]> {
  if (!existsSync(file)) return {};
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string; sql: string }[];
    // A WITHOUT ROWID table (the search index's) has no rowid and is read in the order of its primary key.
    const order = (sql: string) => (/WITHOUT ROWID/i.test(sql) ? '' : ' ORDER BY rowid');
    return Object.fromEntries(tables.map(({ name, sql }) => [name, db.prepare(`SELECT * FROM "${name}"${order(sql)}`).all()]));
  } finally {
    db.close();
  }
}

export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Which files hold any of the needles, byte for byte and in any ASCII case: "<file>: <needle>" for each find.
 * Bytes are read as latin1 so that UTF-8 sequences compare as they are stored.
 */
export function traces(dir: string, needles: string[]): string[] {
  const found: string[] = [];
  for (const file of filesUnder(dir)) {
    const text = readFileSync(file).toString('latin1').toLowerCase();
    for (const needle of needles) {
      if (text.includes(Buffer.from(needle.toLowerCase(), 'utf8').toString('latin1'))) found.push(`${relative(dir, file)}: ${needle}`);
    }
  }
  return found;
}
