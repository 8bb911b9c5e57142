import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Test files each start their own server on an ephemeral port and their own SQLite database.
    pool: 'forks',
    env: { NODE_ENV: 'test' },
  },
});
