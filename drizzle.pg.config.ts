// PostgreSQL's migrations: `npm run db:generate:pg`. The booking exclusion constraint and the limiter's
// UNLOGGED table are custom SQL migrations in the same folder (drizzle's schema cannot spell them).
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/pg/schema/index.ts',
  out: './drizzle/pg',
});
