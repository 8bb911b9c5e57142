import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new SQLite file path in a temporary folder of its own. */
export function tempDbPath(name = 'test.sqlite'): string {
  return join(mkdtempSync(join(tmpdir(), 'ormiar-test-')), name);
}
