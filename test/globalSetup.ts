// Once per `vitest run`: a throwaway PostgreSQL (with a migrated template database that each test file
// copies) and a throwaway Redis, both removed at the end. Test files reach them through inject().
import type { TestProject } from 'vitest/node';
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
  }
}

export default async function setup(project: TestProject) {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
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
