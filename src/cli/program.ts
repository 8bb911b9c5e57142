// The admin CLI's commands (API.md §1). Each is a thin layer over an admin procedure or a service:
// parse flags → open the database → call → print one result (JSON with --json) → close.
import { Command, type HelpContext } from 'commander';
import { backupSqlite, BackupError } from '../db/sqlite/backup';
import { baseUrlOf, type Env } from '../env';
import { seedLeads, type SeedResult } from '../services/seed';
import { inviteUser, listUsers, removeUser, resetPassword } from '../services/users';
import { errorLine, type FieldNames } from './errors';
import { NoDatabaseError, openSession, type CliSession } from './session';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Parsed once by main.ts; --db overrides DATABASE_PATH. */
  env: () => Env;
}

interface CommonOptions {
  db?: string;
  json?: boolean;
}

interface Output {
  json: unknown;
  text: string;
}

// Missing subcommands are errors like any other: one line and exit 1, not the help page on stderr.
class CliCommand extends Command {
  override createCommand(name?: string): CliCommand {
    return new CliCommand(name);
  }

  override help(context?: HelpContext): never;
  override help(cb: (str: string) => string): never;
  override help(context?: HelpContext | ((str: string) => string)): never {
    if (typeof context === 'function') return super.help(context);
    if (context?.error) {
      const names = this.commands.map((c) => c.name()).filter((n) => n !== 'help');
      this.error(`error: missing command: ${this.name()} ${names.join('|')} (see --help)`);
    }
    return super.help(context);
  }
}

const fmtCount = (n: number) => n.toLocaleString('en-US');

export function buildProgram(io: CliIo): Command {
  const program = new CliCommand('ormiar-cli')
    .description('Ormiar admin CLI: clients, plans, bots, API keys, dashboard people, synthetic data')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  /** A command with --db and --json whose action runs in a session and prints its output. */
  const leaf = <A extends string[]>(
    parent: Command,
    name: string,
    description: string,
    fields: FieldNames,
    run: (session: CliSession, args: A, options: Record<string, string | undefined>) => Output | Promise<Output>,
    { mayCreate = false }: { mayCreate?: boolean } = {},
  ) =>
    parent
      .command(name)
      .description(description)
      .option('--db <path>', 'SQLite database file (default: DATABASE_PATH, ./data/ormiar.sqlite)')
      .option('--json', 'print one JSON object on stdout and nothing else')
      .action(async (...params: unknown[]) => {
        // commander passes the positional arguments, then the options, then the command itself.
        const options = params[params.length - 2] as CommonOptions & Record<string, string | undefined>;
        const args = params.slice(0, -2) as A;
        let session: CliSession | undefined;
        try {
          const env = io.env();
          session = openSession(env, options.db ?? env.DATABASE_PATH, { mayCreate });
          const out = await run(session, args, options);
          io.stdout.write(`${options.json ? JSON.stringify(out.json) : out.text}\n`);
        } catch (err) {
          io.stderr.write(`${err instanceof NoDatabaseError ? `error: ${err.message}` : errorLine(err, fields)}\n`);
          process.exitCode = 1;
        } finally {
          await session?.close();
        }
      });

  const clientsCmd = program.command('clients').description('tenants and their plans');
  leaf(clientsCmd, 'create', 'create a client', { name: '--name', plan: '--plan' }, async ({ caller }, _args, o) => {
    const c = await caller.admin.clients.create({ name: o.name ?? '', plan: o.plan as never });
    return { json: c, text: `Created client ${c.id} "${c.name}" on the ${c.plan} plan` };
  }, { mayCreate: true })
    .requiredOption('--name <name>', 'client name')
    .requiredOption('--plan <plan>', 'starter | business | enterprise');
  leaf<[string, string]>(clientsCmd, 'set-plan', "change a client's plan (takes effect on the next request)", { client_id: 'CLIENT_ID', plan: 'PLAN' }, async ({ caller }, [clientId, plan]) => {
    const c = await caller.admin.clients.setPlan({ client_id: clientId, plan: plan as never });
    return { json: c, text: `Client ${c.id} "${c.name}" is now on the ${c.plan} plan` };
  })
    .argument('<CLIENT_ID>')
    .argument('<PLAN>', 'starter | business | enterprise');

  const botsCmd = program.command('bots').description("a client's bots");
  leaf(botsCmd, 'create', 'create a bot for a client', { client_id: '--client', name: '--name' }, async ({ caller }, _args, o) => {
    const b = await caller.admin.bots.create({ client_id: o.client ?? '', name: o.name ?? '' });
    return { json: b, text: `Created bot ${b.id} "${b.name}"` };
  })
    .requiredOption('--client <CLIENT_ID>', 'the client')
    .requiredOption('--name <name>', 'bot name');

  const keysCmd = program.command('keys').description('API keys');
  leaf(keysCmd, 'create', 'create an API key (the token is printed this once)', { client_id: '--client', name: '--name' }, async ({ caller }, _args, o) => {
    const k = await caller.admin.keys.create({ client_id: o.client ?? '', ...(o.name !== undefined ? { name: o.name } : {}) });
    return { json: k, text: `Created API key ${k.id} for ${k.client_id}. Token (shown once, store it now): ${k.token}` };
  })
    .requiredOption('--client <CLIENT_ID>', 'the client')
    .option('--name <label>', 'a label for the key');
  leaf(keysCmd, 'list', "list a client's API keys (previews only)", { client_id: '--client' }, async ({ caller }, _args, o) => {
    const list = await caller.admin.keys.list({ client_id: o.client ?? '' });
    const lines = list.data.map(
      (k) =>
        `${k.id}  ${k.preview}  ${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}  created ${k.created_at}  last used ${k.last_used_at ?? 'never'}${k.name ? `  "${k.name}"` : ''}`,
    );
    return { json: list, text: lines.length ? lines.join('\n') : 'No API keys' };
  }).requiredOption('--client <CLIENT_ID>', 'the client');
  leaf<[string]>(keysCmd, 'revoke', 'revoke an API key (refused from the next request)', { key_id: 'KEY_ID' }, async ({ caller }, [keyId]) => {
    const k = await caller.admin.keys.revoke({ key_id: keyId });
    return { json: k, text: `Revoked API key ${k.id} (${k.preview}) at ${k.revoked_at ?? ''}` };
  }).argument('<KEY_ID>');

  // The dashboard's people (API.md §7). Links are one-time, valid 72 h, on PUBLIC_BASE_URL.
  const usersCmd = program.command('users').description("a client's people (dashboard sign-in)");
  leaf(usersCmd, 'invite', 'invite a person: prints a one-time URL where they set a password (72 h)', { client_id: '--client', email: '--email' }, async ({ deps }, _args, o) => {
    const u = await inviteUser(deps, { client_id: o.client ?? '', email: o.email ?? '' }, baseUrlOf(io.env()));
    return { json: { id: u.id, email: u.email, client_id: u.client_id, invite_url: u.invite_url, expires_at: u.expires_at }, text: `Invited ${u.email} (${u.id}). Send them this one-time link (valid until ${u.expires_at}): ${u.invite_url}` };
  })
    .requiredOption('--client <CLIENT_ID>', 'the client')
    .requiredOption('--email <EMAIL>', 'their email address');
  leaf(usersCmd, 'list', "list a client's people", { client_id: '--client' }, async ({ deps }, _args, o) => {
    const list = await listUsers(deps, o.client ?? '');
    return { json: list, text: list.data.length ? list.data.map((u) => `${u.id}  ${u.email}  ${u.status}  created ${u.created_at}`).join('\n') : 'No people' };
  }).requiredOption('--client <CLIENT_ID>', 'the client');
  leaf<[string]>(usersCmd, 'remove', 'remove a person (their sessions end at once)', { user_id: 'USER_ID' }, async ({ deps }, [userId]) => {
    const u = await removeUser(deps, userId);
    return { json: u, text: `Removed ${u.email} (${u.id}); their sessions have ended` };
  }).argument('<USER_ID>');
  leaf<[string]>(usersCmd, 'reset-password', 'a new one-time URL to set a password (earlier links stop working)', { user_id: 'USER_ID' }, async ({ deps }, [userId]) => {
    const u = await resetPassword(deps, userId, baseUrlOf(io.env()));
    return { json: { id: u.id, email: u.email, reset_url: u.reset_url, expires_at: u.expires_at }, text: `One-time link for ${u.email} (valid until ${u.expires_at}): ${u.reset_url}` };
  }).argument('<USER_ID>');

  leaf(program, 'seed', "fill a client's workspace with synthetic leads (benchmarks, demos)", { client_id: '--client', leads: '--leads', days: '--days' }, async (session, _args, o) => {
    const progress = progressReporter(io.stderr);
    const result = await seedLeads(
      session.deps,
      { client_id: o.client ?? '', leads: o.leads, ...(o.days !== undefined ? { days: o.days } : {}) },
      { onProgress: progress },
    );
    return { json: { ...result, rows_per_second: rowsPerSecond(result) }, text: seedSummary(result) };
  })
    .requiredOption('--client <CLIENT_ID>', 'the client')
    .requiredOption('--leads <N>', 'number of leads')
    .option('--days <D>', 'spread over the last D days (default 60)');

  program
    .command('backup')
    .description('write a consistent copy of a live SQLite database to FILE (safe while the server writes)')
    .argument('<FILE>', 'the copy to write (must not exist)')
    .option('--db <path>', 'SQLite database file (default: DATABASE_PATH, ./data/ormiar.sqlite)')
    .option('--json', 'print one JSON object on stdout and nothing else')
    .action(async (file: string, options: CommonOptions) => {
      try {
        const env = io.env();
        const source = options.db ?? env.DATABASE_PATH;
        // No session here: a backup reads the file as it is and never migrates it.
        if (/^postgres(ql)?:\/\//i.test(source) || (options.db === undefined && env.DATABASE_URL !== undefined)) {
          throw new BackupError('backup copies a SQLite database; for PostgreSQL use pg_dump (see README, Backups)');
        }
        const result = await backupSqlite(source, file);
        const text = `Backed up ${source} to ${result.file}: ${fmtCount(result.pages)} pages, ${fmtCount(result.bytes)} bytes in ${result.duration_ms} ms; integrity_check ok`;
        io.stdout.write(`${options.json ? JSON.stringify(result) : text}\n`);
      } catch (err) {
        io.stderr.write(`${err instanceof BackupError ? `error: ${err.message}` : errorLine(err)}\n`);
        process.exitCode = 1;
      }
    });

  return program;
}

const rowsPerSecond = (r: SeedResult) => Math.round(r.leads / Math.max(r.duration_ms / 1000, 0.001));

function seedSummary(r: SeedResult): string {
  const s = r.statuses;
  return (
    `Seeded ${fmtCount(r.leads)} leads for ${r.client_id} over the last ${r.days} days across ${r.bot_ids.length} bot(s) ` +
    `in ${(r.duration_ms / 1000).toFixed(1)} s (${fmtCount(rowsPerSecond(r))} rows/s): ` +
    `new ${fmtCount(s.new)}, qualified ${fmtCount(s.qualified)}, booked ${fmtCount(s.booked)}, lost ${fmtCount(s.lost)}; ` +
    `appointments: scheduled ${fmtCount(r.appointments.scheduled)}, completed ${fmtCount(r.appointments.completed)}, cancelled ${fmtCount(r.appointments.cancelled)}; ` +
    `${fmtCount(r.events)} events`
  );
}

// A live line on a terminal; on a pipe, a line per 10% for large runs only (logs stay readable).
const PROGRESS_MIN_ROWS = 100_000;

function progressReporter(stderr: CliIo['stderr']): (done: number, total: number) => void {
  const started = performance.now();
  let lastTenth = 0;
  return (done, total) => {
    if (total < PROGRESS_MIN_ROWS) return;
    const seconds = (performance.now() - started) / 1000;
    const line = `seeding: ${fmtCount(done)} / ${fmtCount(total)} leads (${Math.floor((done / total) * 100)}%), ${fmtCount(Math.round(done / Math.max(seconds, 0.001)))} rows/s`;
    if (stderr.isTTY) {
      stderr.write(`\r${line}${done === total ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor((done / total) * 10);
    if (tenth > lastTenth) {
      lastTenth = tenth;
      stderr.write(`${line}\n`);
    }
  };
}
