// TLS (API.md §1; issue 6): HSTS on HTTPS answers only, and a renewed certificate reloaded on SIGHUP
// without dropping open connections, on the real entry point. TLS 1.3 only and unreadable files at
// start-up are shown in test/startup.test.ts; the refusal of TLS 1.2 is checked here again after a reload.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_TOKEN, startTestServer, type TestServer } from './helpers/harness';
import { killAllChildren, startChild } from './helpers/child';
import { onPostgres } from './helpers/engine';
import { createTestDatabase } from './helpers/pg';

/** A child server's database on this file's engine: SQLite in memory, or a PostgreSQL database of its own. */
const childDatabase = async (): Promise<Record<string, string>> => (onPostgres() ? { DATABASE_URL: await createTestDatabase() } : { DATABASE_PATH: ':memory:' });

interface Cert {
  cert: string;
  key: string;
  pem: Buffer;
  fingerprint: string;
}

const dir = mkdtempSync(join(tmpdir(), 'ormiar-tls-'));

/** A self-signed P-256 certificate for 127.0.0.1, with its SHA-256 fingerprint in Node's notation. */
function makeCert(name: string): Cert {
  const key = join(dir, `${name}.key.pem`);
  const cert = join(dir, `${name}.cert.pem`);
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', `/CN=127.0.0.1/O=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  expect(made.status, made.stderr.toString()).toBe(0);
  const pem = readFileSync(cert);
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

let first: Cert;
let renewed: Cert;
beforeAll(async () => {
  first = makeCert('first');
  renewed = makeCert('renewed');
});
afterAll(() => killAllChildren());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  fingerprint: string;
  reusedSocket: boolean;
}

/** One HTTPS GET; `agent` decides whether a kept-alive connection is reused. */
function get(url: string, agent: https.Agent, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = https.get(url, { agent, headers }, (res) => {
      const socket = res.socket as tls.TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, fingerprint, reusedSocket: req.reusedSocket }));
    });
    req.once('error', fail);
  });
}

/** A fresh TLS connection: the certificate it is shown, or the handshake's error. */
function handshake(port: number, version: 'TLSv1.2' | 'TLSv1.3', ca: Buffer[]): Promise<string> {
  return new Promise((done, fail) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, minVersion: version, maxVersion: version }, () => {
      done(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', fail);
  });
}

describe('Strict-Transport-Security', () => {
  let secure: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    secure = await startTestServer({ TLS_CERT_PATH: first.cert, TLS_KEY_PATH: first.key });
    plain = await startTestServer();
  });
  afterAll(async () => {
    await Promise.all([secure?.close(), plain?.close()]);
  });

  it('is on every HTTPS answer (success, 401, 404, /trpc, /docs) and on no HTTP one', async () => {
    const agent = new https.Agent({ ca: [first.pem] });
    // Each server has its own database: a tenant (and key) of each.
    const paths = async (srv: TestServer): Promise<[string, Record<string, string>, number][]> => [
      ['/healthz', {}, 200],
      ['/v1/bots', { authorization: `Bearer ${(await srv.tenant('business')).token}` }, 200],
      ['/v1/bots', {}, 401],
      ['/nope', {}, 404],
      [`/trpc/bots.list?input=${encodeURIComponent('{}')}`, { authorization: `Bearer ${INTERNAL_TOKEN}` }, 400],
      ['/v1/openapi.json', {}, 200],
      ['/docs/', {}, 200],
    ];
    for (const [path, headers, status] of await paths(secure)) {
      const res = await get(`${secure.url}${path}`, agent, headers);
      expect(res.status, path).toBe(status);
      expect(res.headers['strict-transport-security'], path).toBe('max-age=31536000');
    }
    agent.destroy();
    for (const [path, headers, status] of await paths(plain)) {
      const res = await fetch(`${plain.url}${path}`, { headers });
      expect(res.status, path).toBe(status);
      expect(res.headers.has('strict-transport-security'), path).toBe(false);
    }
  });
});

describe('SIGHUP reloads the certificate', () => {
  it('new connections get the renewed certificate, an open keep-alive connection keeps working, a bad file keeps the current one', async () => {
    // The paths the operator configured; renewal replaces the files behind them.
    const certPath = join(dir, 'live.cert.pem');
    const keyPath = join(dir, 'live.key.pem');
    copyFileSync(first.cert, certPath);
    copyFileSync(first.key, keyPath);
    const child = await startChild({ ...(await childDatabase()), TLS_CERT_PATH: certPath, TLS_KEY_PATH: keyPath });
    const port = Number(new URL(child.url).port);
    const ca = [first.pem, renewed.pem];
    const kept = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
    try {
      const opened = await get(`${child.url}/healthz`, kept);
      expect(opened).toMatchObject({ status: 200, fingerprint: first.fingerprint, reusedSocket: false });

      copyFileSync(renewed.cert, certPath);
      copyFileSync(renewed.key, keyPath);
      child.proc.kill('SIGHUP');
      await child.waitForLog((l) => l.msg === 'TLS certificate reloaded');

      // A new connection is shown the renewed certificate, still over TLS 1.3 only.
      expect(await handshake(port, 'TLSv1.3', ca)).toBe(renewed.fingerprint);
      await expect(handshake(port, 'TLSv1.2', ca)).rejects.toThrow(/protocol|version/i);
      const fresh = new https.Agent({ ca });
      expect(await get(`${child.url}/healthz`, fresh)).toMatchObject({ status: 200, fingerprint: renewed.fingerprint });
      fresh.destroy();
      // The connection opened before the reload was not dropped: it is reused and keeps its session.
      const after = await get(`${child.url}/healthz`, kept);
      expect(after).toMatchObject({ status: 200, fingerprint: first.fingerprint, reusedSocket: true });

      // A broken renewal (garbage certificate, then a key that does not match) keeps the current certificate.
      for (const [cert, key] of [
        ['not a certificate', readFileSync(renewed.key, 'utf8')],
        [readFileSync(first.cert, 'utf8'), readFileSync(renewed.key, 'utf8')],
      ] as const) {
        writeFileSync(certPath, cert);
        writeFileSync(keyPath, key);
        const failed = () => child.logs.filter((l) => l.msg === 'TLS reload failed; keeping the current certificate').length;
        const before = failed();
        child.proc.kill('SIGHUP');
        await child.waitForLog(() => failed() > before);
        expect(await handshake(port, 'TLSv1.3', ca)).toBe(renewed.fingerprint);
      }
      const failure = child.logs.find((l) => l.msg === 'TLS reload failed; keeping the current certificate');
      expect(failure?.level, 'logged as an error').toBe(50);
      expect(await get(`${child.url}/healthz`, kept)).toMatchObject({ status: 200, fingerprint: first.fingerprint, reusedSocket: true });
    } finally {
      kept.destroy();
      child.proc.kill('SIGTERM');
    }
    expect(await child.exited).toBe(0);
  });

  it('without TLS, SIGHUP is logged and the server keeps serving', async () => {
    const child = await startChild({ ...(await childDatabase()), ORMIAR_INTERNAL_TOKEN: INTERNAL_TOKEN });
    child.proc.kill('SIGHUP');
    await child.waitForLog((l) => l.msg === 'TLS reload requested but TLS_CERT_PATH/TLS_KEY_PATH are not set');
    expect((await fetch(`${child.url}/healthz`)).status).toBe(200);
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  });
});
