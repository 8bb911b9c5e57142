// Once per `vitest run`: a throwaway PostgreSQL (with a migrated template database that each test file
// copies) and a throwaway Redis, both removed at the end. Test files reach them through inject().
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { nodeEntry } from '../scripts/build-options.mjs';
import { migratePg, openPg } from '../src/db/pg/client';
import { startPostgres, startRedis } from './helpers/stores';

export const TEMPLATE_DATABASE = 'ormiar_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The server's maintenance database (`postgres`), as the `postgres` superuser. */
    postgresUrl: string;
    redisUrl: string;
    /** The data engine this project's files run on (vitest.config.ts `projects`). */
    engine: 'sqlite' | 'postgres';
    /** The server and CLI bundled from the current source, for child processes (test/helpers/entry.ts). */
    testBundle: { server: string; cli: string };
  }
}

/**
 * The server and CLI as child processes run them: bundled with dist/main.mjs's options (scripts/build-options.mjs)
 * into node_modules/.cache, so that dependencies, drizzle/ and dist/dashboard resolve from the repository as
 * they do for dist/main.mjs.
 */
async function bundleForChildren(): Promise<{ server: string; cli: string }> {
  const outdir = resolve(__dirname, '../node_modules/.cache/ormiar-test-bundle');
  // Written as new files, never over the old ones: a node_modules copied with hard links (`cp -al`, as
  // worktrees are set up) shares the old files' inodes with other checkouts, and esbuild's in-place
  // write would change their bundles too (a server there then imports chunks that are not in its folder).
  rmSync(outdir, { recursive: true, force: true });
  await build({
    ...nodeEntry,
    entryPoints: { server: resolve(__dirname, '../src/main.ts'), cli: resolve(__dirname, '../src/cli/main.ts') },
    outdir,
  });
  return { server: join(outdir, 'server.mjs'), cli: join(outdir, 'cli.mjs') };
}

export default async function setup(project: TestProject) {
  const [postgres, redis, testBundle] = await Promise.all([startPostgres(), startRedis(), bundleForChildren()]);
  project.provide('testBundle', testBundle);
  try {
    const admin = openPg(postgres.url, { max: 1 });
    await admin.pool.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
    await admin.close();
    const template = openPg(postgres.url.replace(/\/postgres$/, `/${TEMPLATE_DATABASE}`), { max: 1 });
    await migratePg(template.pool);
    await template.close();
  } catch (err) {
    await Promise.all([postgres.stop(), redis.stop()]);
    throw err;
  }
  project.provide('postgresUrl', postgres.url);
  project.provide('redisUrl', redis.url);
  return async () => {
    await Promise.all([postgres.stop(), redis.stop()]);
  };
}
