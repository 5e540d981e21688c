import { userInfo } from 'node:os';
import type { Acting } from '../admin/access.js';

const LOGIN = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/;

/**
 * The person at the command line, as the audit log names them: `cli:<login name>`. Run through `sudo -u arbiter`,
 * that is the login that ran sudo (SUDO_USER), not the service's account every sysadmin shares.
 */
export function cliActing(env: NodeJS.ProcessEnv): Acting {
  let account: string;
  try {
    account = userInfo().username;
  } catch {
    // A user ID with no entry in /etc/passwd (a container).
    account = env.USER ?? env.LOGNAME ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  const sudoer = env.SUDO_USER;
  const who = sudoer && LOGIN.test(sudoer) ? sudoer : LOGIN.test(account) ? account : 'unknown';
  return { actor: `cli:${who}`, name: `${who} (command line)` };
}
