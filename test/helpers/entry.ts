// What child processes run: the server and the CLI bundled once per test run (test/globalSetup.ts) from
// the current source, as `npm start` runs its bundle — not `tsx src/…`, whose TypeScript loading costs
// each start a second or two of CPU (about a hundred starts per run: kill -9 trials, restarts, the CLI).
import { inject } from 'vitest';

/** `node <bundle>` arguments for the server (src/main.ts). */
export const serverArgs = (): string[] => [inject('testBundle').server];

/** `node <bundle>` arguments for the admin CLI (src/cli/main.ts). */
export const cliArgs = (): string[] => [inject('testBundle').cli];
