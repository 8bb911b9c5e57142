// API keys as authenticated by this process, kept so that a key's next requests need no database round
// trip (on PostgreSQL that round trip was a fifth of a GET's CPU). Only where the limiter's counters are in
// Redis: its authentication epoch (ratelimit.ts AuthEpoch) is what keeps every process's cache true.
//
// - A key is read from the database after reading the epoch, and cached under that epoch.
// - Every change to what an authentication reads (revokeApiKey, setPlan) sets a new epoch after it commits
//   and before it answers (ServiceDeps.authChanged).
// - A cached key is charged only if its epoch is still the current one, in the charge's own script: else
//   nothing is charged, the key is read again, and the request is decided on what was read
//   (http/context.ts chargeKey, trpc/procedures.ts). So a request that starts after a change has answered
//   never acts on a key read before it, in any process: a revocation or plan change takes effect on the
//   next request, as without the cache.
// - Unknown and revoked keys are never cached; entries expire after 10 s: a change that sets no epoch (written
//   into the database by hand, or by the CLI run without the servers' REDIS_URL) is seen within that. One
//   read of a busy key per 10 s per process costs nothing measurable.
import type { AppDeps } from '../deps';
import type { Plan } from '../db/ports/rows';
import { sha256Hex } from '../lib/crypto';
import { authenticateToken, noteKeyUse } from '../services/clients';

const TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

export interface AuthenticatedKey {
  keyId: string;
  clientId: string;
  plan: Plan;
  /** The epoch it was read or cached under; undefined when there is no cache (or Redis did not answer). */
  epoch: string | undefined;
  /** The cache's name for the token (its hash): forget() it when the epoch turns out to be old. */
  hash: string;
}

export interface KeyAuthenticator {
  authenticate(token: string): Promise<AuthenticatedKey | undefined>;
  forget(hash: string): void;
}

export function keyAuthenticator(deps: AppDeps): KeyAuthenticator {
  const epochs = deps.limits.authEpoch;
  if (!epochs) {
    return {
      authenticate: async (token) => {
        const found = await authenticateToken(deps, token);
        return found && { keyId: found.keyId, clientId: found.client.id, plan: found.client.plan, epoch: undefined, hash: '' };
      },
      forget: () => undefined,
    };
  }
  const entries = new Map<string, { key: AuthenticatedKey; usedAt: number | null; until: number }>();
  return {
    async authenticate(token) {
      const hash = sha256Hex(token);
      const hit = entries.get(hash);
      const now = Date.now();
      if (hit !== undefined && hit.until > now) {
        hit.usedAt = await noteKeyUse(deps, hit.key.keyId, hit.usedAt);
        return hit.key;
      }
      if (hit !== undefined) entries.delete(hash);
      // The epoch first: a change committed after this read sets a newer one, so the key read next is
      // never trusted past that change.
      const epoch = await epochs.read().catch(() => undefined);
      const found = await authenticateToken(deps, token);
      if (!found) return undefined;
      const key: AuthenticatedKey = { keyId: found.keyId, clientId: found.client.id, plan: found.client.plan, epoch, hash };
      if (epoch !== undefined) {
        // Bounded: the oldest entry goes first (a Map iterates in insertion order).
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
        entries.set(hash, { key, usedAt: found.usedAt, until: now + TTL_MS });
      }
      return key;
    },
    forget: (hash) => void entries.delete(hash),
  };
}
