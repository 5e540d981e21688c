import { addOidcClient, newClientSecret, OIDC_SCOPES, removeOidcClient } from '../../apps/oidc/clients.js';
import { KEEP_RETIRED_SECONDS, rotateSigningKeys } from '../../apps/oidc/keys.js';
import { systemClock } from '../../clock.js';
import { EXIT, type Command } from '../command.js';

const ACTIONS = ['rotate-keys', 'client-secret', 'add-client', 'remove-client'] as const;
const DEFAULT_SCOPES = ['openid', 'profile', 'tiers'];
const CLIENT_OPTIONS = ['id', 'name', 'redirect-uri', 'logout-uri', 'scope', 'public'] as const;

const many = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);

export const oidcCommand: Command = {
  name: 'oidc',
  summary: 'the OpenID Connect provider: rotate its signing keys, add and remove the apps that may sign people in',
  usage: 'oidc (rotate-keys | client-secret | add-client --id ID --redirect-uri URI ... | remove-client --id ID)',
  help: `rotate-keys     makes a new RS256 and a new ES256 signing key pair in DATA_DIR/oidc-keys.json and puts them in
                front, where they sign. The keys they replace stay published (in /oidc/jwks) for
                ${KEEP_RETIRED_SECONDS / 3600} hours more, longer than any ID token they signed lives, and are dropped at a later
                rotation or start. A running Arbiter sees the changed file at its next request to the provider and
                uses the new keys from then on; no restart is needed (a restart picks them up too).
client-secret   prints a new random client secret and its SHA-256 hash. Give the secret to the app; put only the
                hash in OIDC_CLIENTS_FILE as "client_secret_hash", then restart Arbiter.
add-client --id ID --redirect-uri URI [--redirect-uri URI ...] [--logout-uri URI ...] [--scope SCOPES] [--name NAME]
           [--public]
                adds an app to OIDC_CLIENTS_FILE (which must exist; start it as {"clients": []}) with the same checks as
                at start: redirect URIs are https (http only to this machine) and compared exactly; SCOPES is a
                comma-separated list of ${OIDC_SCOPES.join(', ')} with openid (default ${DEFAULT_SCOPES.join(',')}).
                Prints the app's client secret once (only its hash is written); with --public the app has no
                secret and must use PKCE. Restart Arbiter afterwards: it reads the file at start.
remove-client --id ID
                takes the app out of OIDC_CLIENTS_FILE; restart Arbiter afterwards.`,
  options: {
    id: { type: 'string' },
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'logout-uri': { type: 'string', multiple: true },
    scope: { type: 'string', multiple: true },
    public: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  async run({ positionals, values, io, config }) {
    const action = positionals[0] as (typeof ACTIONS)[number];
    if (!ACTIONS.includes(action)) {
      io.err(`Unknown action "${positionals[0]}": use ${ACTIONS.join(', ')}.`);
      return EXIT.failed;
    }
    const given = CLIENT_OPTIONS.filter((o) => values[o] !== undefined);
    const allowed: readonly string[] = action === 'add-client' ? CLIENT_OPTIONS : action === 'remove-client' ? ['id'] : [];
    const stray = given.filter((o) => !allowed.includes(o));
    if (stray.length > 0) {
      io.err(`${action} does not take ${stray.map((o) => `--${o}`).join(', ')}.`);
      return EXIT.failed;
    }
    if (action === 'add-client' || action === 'remove-client') {
      const path = config().oidcClientsFile;
      if (!path) {
        io.err('No OIDC_CLIENTS_FILE is set: set it to the file that lists the apps (e.g. /etc/arbiter/oidc-clients.json, starting as {"clients": []}).');
        return EXIT.failed;
      }
      const id = typeof values.id === 'string' ? values.id : '';
      if (id === '') {
        io.err(`--id: the app's client_id is needed.`);
        return EXIT.failed;
      }
      if (action === 'remove-client') {
        removeOidcClient(path, id);
        io.out(`Removed the app "${id}" from ${path}. Restart Arbiter (systemctl restart arbiter): it reads the file at start.`);
        return EXIT.ok;
      }
      const scopes = many(values.scope).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
      const { secret } = addOidcClient(path, {
        clientId: id,
        name: typeof values.name === 'string' ? values.name : undefined,
        redirectUris: many(values['redirect-uri']),
        postLogoutRedirectUris: many(values['logout-uri']),
        scopes: scopes.length > 0 ? scopes : DEFAULT_SCOPES,
        public: values.public === true,
      });
      io.out(`Added the app "${id}" to ${path}.`);
      io.out(secret
        ? `Its client secret (give it to the app; it is shown only this once, the file keeps its hash): ${secret}`
        : 'It has no secret: it signs in with PKCE alone.');
      io.out('Restart Arbiter (systemctl restart arbiter): it reads the file at start.');
      return EXIT.ok;
    }
    if (action === 'client-secret') {
      const { secret, hash } = newClientSecret();
      io.out(`client secret (give it to the app, it is not kept anywhere): ${secret}`);
      io.out(`client_secret_hash (for OIDC_CLIENTS_FILE): ${hash}`);
      return EXIT.ok;
    }
    const rotation = await rotateSigningKeys(config().dataDir, systemClock.now());
    const list = (keys: { kid: string; alg: string }[]) => keys.map((k) => `${k.alg} ${k.kid}`).join(', ') || 'none';
    io.out(`New signing keys in ${rotation.path}: ${list(rotation.added)}.`);
    io.out(`Replaced (still published for ${KEEP_RETIRED_SECONDS / 3600} hours): ${list(rotation.retired)}.`);
    io.out(`Dropped (replaced long enough ago): ${list(rotation.dropped)}.`);
    io.out('A running Arbiter signs with the new keys from its next request to the provider; no restart is needed.');
    return EXIT.ok;
  },
};
