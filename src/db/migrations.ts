// Where each engine's committed migrations are, from the source tree or the bundle in dist/.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * One engine's committed migrations: `drizzle/<engine>/` in the nearest folder above this module that has
 * it (src/db/ or a bundle in dist/).
 */
export function migrationsFolder(engine: 'sqlite' | 'pg'): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'drizzle', engine);
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return resolve('drizzle', engine);
    dir = parent;
  }
}
