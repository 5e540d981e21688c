import { ApiKeyName, ApiKeyScope, createApiKeys, type ApiKey } from '../../apps/api-keys.js';
import { cliActing } from '../actor.js';
import { EXIT, type Command } from '../command.js';

const ACTIONS = 'Say what to do: create, list or revoke (arbiter api-key --help tells more).';

export const apiKeyCommand: Command = {
  name: 'api-key',
  summary: 'create, list and revoke the keys that programs use for /api/v1',
  usage: 'api-key (create --name NAME --scope read|write | list | revoke --name NAME)',
  help: `Keys for the JSON API at /api/v1, sent as "Authorization: Bearer <key>". Arbiter stores only a hash of each
key: the key is printed once, when it is made, and cannot be shown again (make a new one and revoke the old).

  create --name NAME --scope read|write
      make a key. read: look up members and subscriptions. write: also grant, block, revoke grants, resend
      links and reconcile, as an admin does in the panel (the audit log names the key as api:NAME).
      NAME: 1 to 64 letters, digits, dots, dashes or underscores; never reused, even after a revoke.
      The key alone goes to stdout (KEY=$(arbiter api-key create ...) keeps it); the words go to stderr.
  list
      every key: name, scope, when it was created, last used (to the minute) and revoked. Never the key.
  revoke --name NAME
      the key stops working at once, also for a running Arbiter.

Creating and revoking are kept in the audit log with your login name. Exit status 1 when the name is taken,
unknown or already revoked (nothing is changed).`,
  options: { name: { type: 'string' }, scope: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run({ values, positionals, io, services }) {
    const action = positionals[0];
    const problem = (text: string) => {
      io.err(text);
      return EXIT.failed;
    };
    const name = (): { name: string } | { problem: string } => {
      const parsed = ApiKeyName.safeParse(values.name);
      return parsed.success ? { name: parsed.data } : { problem: `--name: ${parsed.error.issues[0]!.message}.` };
    };
    switch (action) {
      case 'create': {
        const n = name();
        if ('problem' in n) return problem(n.problem);
        const scope = ApiKeyScope.safeParse(values.scope);
        if (!scope.success) return problem('--scope: read or write.');
        const { key, apiKey } = createApiKeys(services()).create({ name: n.name, scope: scope.data }, cliActing(io.env));
        io.err(`Created the API key "${apiKey.name}" (scope ${apiKey.scope}). It is shown only this once: store it now.`);
        io.out(key);
        return EXIT.ok;
      }
      case 'revoke': {
        if (values.scope !== undefined) return problem('revoke takes only --name.');
        const n = name();
        if ('problem' in n) return problem(n.problem);
        const apiKey = createApiKeys(services()).revoke(n.name, cliActing(io.env));
        io.out(`Revoked the API key "${apiKey.name}": it no longer works.`);
        return EXIT.ok;
      }
      case 'list':
        if (values.name !== undefined || values.scope !== undefined) return problem('list takes no options.');
        io.out(table(createApiKeys(services()).list()));
        return EXIT.ok;
      default:
        return problem(ACTIONS);
    }
  },
};

const minute = (at: string | null, none: string) => (at ? `${at.slice(0, 16).replace('T', ' ')} UTC` : none);

function table(keys: ApiKey[]): string {
  if (keys.length === 0) return 'No API keys. Make one with: arbiter api-key create --name NAME --scope read|write';
  const rows = [
    ['NAME', 'SCOPE', 'CREATED', 'LAST USED', 'REVOKED'],
    ...keys.map((k) => [k.name, k.scope, minute(k.created_at, '-'), minute(k.last_used_at, 'never'), minute(k.revoked_at, '-')]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
