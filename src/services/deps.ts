import type { Store } from '../db/ports';
import type { Clock } from '../lib/time';

/** What every service function needs: the store and the clock. Routers, CLI and workers pass it. */
export interface ServiceDeps {
  store: Store;
  clock: Clock;
}
