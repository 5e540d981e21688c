import { KEEP_RETIRED_SECONDS } from '../../apps/oidc/keys.js';
import { systemClock } from '../../clock.js';
import { EXIT, type Command } from '../command.js';
import { oidcClientSecret, rotateOidcKeys } from '../oidc.js';

const ACTIONS = ['rotate-keys', 'client-secret'] as const;

export const oidcCommand: Command = {
  name: 'oidc',
  summary: 'the OpenID Connect provider: rotate its signing keys, make a client secret',
  usage: 'oidc rotate-keys | oidc client-secret',
  help: `rotate-keys     makes a new RS256 and a new ES256 signing key pair in DATA_DIR/oidc-keys.json and puts them in
                front, where they sign. The keys they replace stay published (in /oidc/jwks) for
                ${KEEP_RETIRED_SECONDS / 3600} hours more, longer than any ID token they signed lives, and are dropped at a later
                rotation or start. A running Arbiter sees the changed file at its next request to the provider and
                uses the new keys from then on; no restart is needed (a restart picks them up too).
client-secret   prints a new random client secret and its SHA-256 hash. Give the secret to the app; put only the
                hash in OIDC_CLIENTS_FILE as "client_secret_hash", then restart Arbiter.`,
  positionals: { min: 1, max: 1 },
  async run({ positionals, io, config }) {
    const action = positionals[0] as (typeof ACTIONS)[number];
    if (!ACTIONS.includes(action)) {
      io.err(`Unknown action "${positionals[0]}": use ${ACTIONS.join(' or ')}.`);
      return EXIT.failed;
    }
    if (action === 'client-secret') {
      const { secret, hash } = oidcClientSecret();
      io.out(`client secret (give it to the app, it is not kept anywhere): ${secret}`);
      io.out(`client_secret_hash (for OIDC_CLIENTS_FILE): ${hash}`);
      return EXIT.ok;
    }
    const rotation = await rotateOidcKeys(config(), systemClock);
    const list = (keys: { kid: string; alg: string }[]) => keys.map((k) => `${k.alg} ${k.kid}`).join(', ') || 'none';
    io.out(`New signing keys in ${rotation.path}: ${list(rotation.added)}.`);
    io.out(`Replaced (still published for ${KEEP_RETIRED_SECONDS / 3600} hours): ${list(rotation.retired)}.`);
    io.out(`Dropped (replaced long enough ago): ${list(rotation.dropped)}.`);
    io.out('A running Arbiter signs with the new keys from its next request to the provider; no restart is needed.');
    return EXIT.ok;
  },
};
