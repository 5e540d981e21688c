/** System programs that some tests run, from Debian packages (the README's Quick start lists them). */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Searched after PATH: /usr/sbin and /sbin (where nginx is) are not on every user's PATH. */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The path of the program `name`, or an error that says which package provides it, so that a machine without it
 * fails the tests that need it with that sentence rather than with ENOENT.
 */
export function requireTool(name: string, aptPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  const found = dirs.map((dir) => join(dir, name)).find(executable);
  if (found) return found;
  throw new Error(`${name} is not installed and this test runs it. On Debian: apt-get install -y ${aptPackage}`);
}
