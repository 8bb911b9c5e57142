// Bundles the server's own code (src/) into dist/main.mjs (dependencies stay in node_modules) and the
// dashboard page into dist/dashboard/.
// `npm start` runs the bundle: loading TypeScript through tsx's hooks took most of start-up
// (about 1.5 s against 0.6 s measured side by side). Runs on `npm install`/`npm ci` (prepare) and
// before every `npm start` (prestart), so the bundle is never staler than the source.
import { build } from 'esbuild';
import { buildDashboard } from './build-dashboard.mjs';
import { common, nodeEntry } from './build-options.mjs';

await Promise.all([
  // The server, split into chunks (scripts/build-options.mjs says why).
  build({ ...nodeEntry, entryPoints: { main: 'src/main.ts' }, outdir: 'dist' }),
  // The typed client internal apps import (package.json "exports"); its types come from
  // `tsc -p tsconfig.build.json` (dist/types). Only @trpc/client is imported at run time.
  build({ ...common, entryPoints: ['src/client/index.ts'], outfile: 'dist/client.mjs', platform: 'neutral' }),
  // The dashboard page, served by the same server at /dashboard.
  buildDashboard(),
]);
