import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A throwaway PostgreSQL and Redis for the whole run (test/helpers/stores.ts).
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Test files each start their own server on an ephemeral port and their own SQLite database.
    pool: 'forks',
    env: { NODE_ENV: 'test' },
  },
});
