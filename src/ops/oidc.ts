/** The OpenID Connect provider's operations: rotating its signing keys, making a client secret. */
import { newClientSecret } from '../apps/oidc/clients.js';
import { rotateSigningKeys, type Rotation } from '../apps/oidc/keys.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';

export interface KeyRotation {
  path: string;
  added: { kid: string; alg: string }[];
  retired: { kid: string; alg: string }[];
  dropped: { kid: string; alg: string }[];
}

const brief = (keys: Rotation['added']) => keys.map((k) => ({ kid: k.kid, alg: k.alg }));

export async function rotateOidcKeys(config: Pick<Config, 'dataDir'>, clock: Clock): Promise<KeyRotation> {
  const rotation = await rotateSigningKeys(config.dataDir, clock.now());
  return { path: rotation.path, added: brief(rotation.added), retired: brief(rotation.retired), dropped: brief(rotation.dropped) };
}

export function oidcClientSecret(): { secret: string; hash: string } {
  return newClientSecret();
}
