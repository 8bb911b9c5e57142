// Start-up only: parse env → open db → migrate → build app → listen → shut down cleanly.
import { EnvError, parseEnv } from './env';
import { startServer } from './server';

async function main() {
  const env = parseEnv(process.env);
  const running = await startServer(env);
  const stop = (signal: string) => {
    running.deps.logger.info({ signal }, 'shutting down');
    // A hung client must not keep the process up forever.
    setTimeout(() => process.exit(1), 15_000).unref();
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof EnvError ? err.message : `Start-up failed: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exit(1);
});
