import type { Store } from '../db/ports';
import type { Clock } from '../lib/time';

/** What every service function needs: the store and the clock. Routers, CLI and workers pass it. */
export interface ServiceDeps {
  store: Store;
  clock: Clock;
  /**
   * Called after a change to what an authentication reads (a key revoked, a plan changed) has committed,
   * before the change answers: processes that cache authenticated keys read them again (src/http/keyCache.ts).
   */
  authChanged?: (() => Promise<void>) | undefined;
}
