// esbuild options of the server's bundle, shared by scripts/build.mjs (dist/main.mjs) and the test suite's
// bundle of the server and CLI for child processes (test/globalSetup.ts), so both run the code alike.

/** Every bundle of src/: ESM for Node 20, dependencies left to node_modules. */
export const common = { bundle: true, format: 'esm', target: 'node20', packages: 'external', sourcemap: true, logLevel: 'warning' };

/**
 * A Node entry (the server, the CLI) into an outdir as `<entry>.mjs`. Split so that what start-up imports
 * only on demand stays out of the entry: the PostgreSQL adapter and its driver (src/db/open.ts imports them
 * only for a postgres:// URL) are a chunk of their own, never loaded on SQLite.
 */
export const nodeEntry = {
  ...common,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
};
