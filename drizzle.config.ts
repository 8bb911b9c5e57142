// SQLite's migrations (drizzle-kit generate). PostgreSQL's: drizzle.pg.config.ts.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/sqlite/schema/index.ts',
  out: './drizzle/sqlite',
});
