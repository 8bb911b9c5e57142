// The product: the full stack (auth, limiter, validation, db, error contract) as `npm start` runs it.
import { parseEnv } from '../../src/env';
import { startServer } from '../../src/server';
import { serveStats } from '../lib/measure';

const running = await startServer(parseEnv(process.env));
running.server.keepAliveTimeout = 60_000;
serveStats(running.url);
process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
