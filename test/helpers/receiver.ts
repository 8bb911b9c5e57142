// A real HTTPS webhook receiver on 127.0.0.1:0 with a certificate made for the test run (openssl):
// its own CA signs a leaf for 127.0.0.1 / localhost / ::1. Every request is recorded and checked with
// the `standardwebhooks` library's verify against the secrets the test registers for that path.
// Answers are scripted per path: a status, a status with headers, or 'hold' (never answered).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';

export interface TestCertificates {
  dir: string;
  caPath: string;
  ca: string;
  cert: string;
  key: string;
}

let certs: TestCertificates | undefined;

/** A CA and a server certificate for 127.0.0.1, localhost and ::1, made once per test process. */
export function testCertificates(): TestCertificates {
  if (certs) return certs;
  const dir = mkdtempSync(join(tmpdir(), 'ormiar-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const p = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=Ormiar Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '2', '-extfile', p('ext.cnf')]);
  certs = {
    dir,
    caPath: p('ca.crt'),
    ca: readFileSync(p('ca.crt'), 'utf8'),
    cert: readFileSync(p('server.crt'), 'utf8'),
    key: readFileSync(p('server.key'), 'utf8'),
  };
  return certs;
}

export type Answer = number | { status: number; headers?: Record<string, string> } | 'hold';

export interface Received {
  path: string;
  at: number;
  headers: Record<string, string>;
  body: string;
  // Parsed body of a verified delivery.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  /** The registered secrets this delivery verifies with (standardwebhooks `verify`). */
  verifiedWith: string[];
  /** What the receiver answered ('hold' while held). */
  answered: number | 'hold';
}

export interface Receiver {
  port: number;
  url(path: string, host?: string): string;
  /** Secrets that deliveries to `path` are verified with. */
  expectSecrets(path: string, secrets: string[]): void;
  /** Scripted answers for `path`, used in order; afterwards 200. */
  script(path: string, answers: Answer[]): void;
  received(path?: string): Received[];
  waitFor(predicate: (all: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  /** Answers every held request with `status` (crash tests hold one open). */
  releaseHeld(status?: number): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const { cert, key } = testCertificates();
  const log: Received[] = [];
  const secrets = new Map<string, string[]>();
  const scripts = new Map<string, Answer[]>();
  const held: ServerResponse[] = [];

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const verifiedWith: string[] = [];
      let json: unknown;
      for (const s of secrets.get(path) ?? []) {
        try {
          json = new Webhook(s).verify(body, headers);
          verifiedWith.push(s);
        } catch {
          // Not signed with this secret.
        }
      }
      const answer = scripts.get(path)?.shift() ?? 200;
      const entry: Received = { path, at: Date.now(), headers, body, json, verifiedWith, answered: answer === 'hold' ? 'hold' : typeof answer === 'number' ? answer : answer.status };
      log.push(entry);
      if (answer === 'hold') {
        held.push(res);
        return;
      }
      const status = typeof answer === 'number' ? answer : answer.status;
      res.writeHead(status, typeof answer === 'number' ? {} : answer.headers);
      res.end(status >= 200 && status < 300 ? 'ok' : 'no');
    });
  };

  const server = https.createServer({ cert, key }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const waitFor = async (predicate: (all: Received[]) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(log)) {
      if (Date.now() > deadline) throw new Error(`receiver: condition not met within ${timeoutMs} ms; received ${log.length}: ${JSON.stringify(log.map((r) => ({ path: r.path, answered: r.answered, id: r.headers['webhook-id'] })))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return log;
  };

  return {
    port,
    url: (path, host = '127.0.0.1') => `https://${host}:${port}${path}`,
    expectSecrets: (path, s) => void secrets.set(path, s),
    script: (path, answers) => void scripts.set(path, [...answers]),
    received: (path) => (path ? log.filter((r) => r.path === path) : [...log]),
    waitFor,
    releaseHeld: (status = 200) => {
      for (const res of held.splice(0)) {
        if (!res.destroyed) res.writeHead(status).end();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held.splice(0)) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
