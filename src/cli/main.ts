// The admin CLI's entry point (`npm run cli -- <command>`): see program.ts and API.md §1.
import { parseEnv, type Env } from '../env';
import { buildProgram } from './program';

let env: Env | undefined;
const program = buildProgram({
  stdout: process.stdout,
  stderr: process.stderr,
  // Parsed when a command runs, so --help works whatever the environment holds.
  env: () => (env ??= parseEnv(process.env)),
});

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
