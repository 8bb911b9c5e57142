import type { Db } from '../db/client';
import type { Clock } from '../lib/time';

/** What every service function needs: the database and the clock. Routers, CLI and workers pass it. */
export interface ServiceDeps {
  db: Db;
  clock: Clock;
}
