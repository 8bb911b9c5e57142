// Abuse limits (issue 6): slow clients are cut off by the header and request bounds (slowloris), one
// address holds at most ORMIAR_MAX_CONNECTIONS_PER_ADDRESS connections, a key-guessing loop is stopped
// by the failed-authentication limiter (its exact rules are in test/ratelimit.test.ts), and no API key,
// service token, webhook secret or lead contact detail ever reaches the log.
import { dbCount, dbRun } from './helpers/db';
import { onPostgres } from './helpers/engine';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../src/env';
import { randomToken } from '../src/lib/crypto';
import { TOKEN_PREFIX } from '../src/services/clients';
import { INTERNAL_TOKEN, startTestServer, tempDbPath, trpcClient, type TestServer } from './helpers/harness';

const servers: TestServer[] = [];
async function server(env: Record<string, string> = {}, overrides: Parameters<typeof startTestServer>[1] = {}) {
  const srv = await startTestServer(env, overrides);
  servers.push(srv);
  return srv;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const sockets: net.Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
});

interface Drip {
  /** Everything the server sent before it closed the connection. */
  received: string;
  /** Milliseconds from connect to close. */
  heldMs: number;
  /** Bytes the client managed to send. */
  sent: number;
}

/** Connects and sends `chunks` one every `everyMs`; resolves when the server closes the connection. */
function drip(url: string, chunks: string[], everyMs: number, localAddress?: string): Promise<Drip> {
  const { port, hostname } = new URL(url);
  return new Promise((done) => {
    const t0 = Date.now();
    const socket = net.connect({ port: Number(port), host: hostname, localAddress });
    sockets.push(socket);
    let received = '';
    let sent = 0;
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.on('error', () => undefined);
    const timer = setInterval(() => {
      const next = chunks[sent];
      if (next === undefined || socket.destroyed) return;
      socket.write(next);
      sent++;
    }, everyMs);
    socket.on('close', () => {
      clearInterval(timer);
      done({ received, heldMs: Date.now() - t0, sent });
    });
  });
}

/** The contract's error body at the end of a raw HTTP answer. */
function rawAnswer(raw: string): { status: number; body: { error?: { code?: string; message?: string; request_id?: string } } } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: JSON.parse(body) as { error?: { code?: string } } };
}

describe('slow clients (slowloris)', () => {
  // Short bounds for the test; production defaults are 15 s and 30 s (checked below).
  const env = { ORMIAR_HEADERS_TIMEOUT_MS: '2000', ORMIAR_REQUEST_TIMEOUT_MS: '4000' };
  const request = 'GET /v1/bots HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nAccept: */*\r\nX-Padding: ' + 'p'.repeat(40) + '\r\n\r\n';

  it('headers sent one byte a second are cut off at the header bound with a 408 in the contract body; the server keeps serving others', async () => {
    const srv = await server(env);
    // Many at once, as an attacker would, plus one that sends nothing at all.
    const drips = [...Array.from({ length: 20 }, () => drip(srv.url, [...request], 1_000)), drip(srv.url, [], 1_000)];
    // Meanwhile an ordinary request is answered at once.
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    const results = await Promise.all(drips);
    for (const r of results) {
      // Cut off long before the headers could have finished (one byte a second: ~100 s).
      expect(r.sent).toBeLessThan(request.length);
      expect(r.heldMs).toBeLessThan(2_000 + 3_000);
      const answer = rawAnswer(r.received);
      expect(answer.status).toBe(408);
      expect(answer.body.error).toMatchObject({ code: 'BAD_REQUEST' });
      expect(answer.body.error?.request_id).toMatch(/^req_/);
    }
  });

  it('a body sent one byte a second is cut off at the request bound', async () => {
    const srv = await server(env);
    const t = await srv.tenant('business');
    const body = JSON.stringify({ bot_id: t.botId, name: 'Slow body' });
    const head = `POST /v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await drip(srv.url, [head, ...body], 1_000);
    expect(r.sent).toBeLessThan(body.length + 1);
    expect(r.heldMs).toBeLessThan(4_000 + 3_000);
    expect(rawAnswer(r.received).status).toBe(408);
    expect(await dbCount(srv, 'SELECT count(*) AS n FROM leads')).toBe(0);
  });

  it('a request line or headers over 16 KiB are refused by the parser with a 431 in the contract body', async () => {
    const srv = await server();
    for (const res of [await fetch(`${srv.url}/v1/leads?q=${'a'.repeat(17_000)}`), await fetch(`${srv.url}/v1/leads`, { headers: { 'x-big': 'a'.repeat(17_000) } })]) {
      expect(res.status).toBe(431);
      const body = (await res.json()) as { error: { code: string; request_id: string } };
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
    }
  });

  it('defaults: 15 s for headers, 30 s for the whole request; a request bound shorter than the header bound is refused at start-up', async () => {
    expect(parseEnv({})).toMatchObject({ ORMIAR_HEADERS_TIMEOUT_MS: 15_000, ORMIAR_REQUEST_TIMEOUT_MS: 30_000, ORMIAR_MAX_CONNECTIONS_PER_ADDRESS: 256 });
    const srv = await server();
    expect(srv.server.headersTimeout).toBe(15_000);
    expect(srv.server.requestTimeout).toBe(30_000);
    expect(() => parseEnv({ ORMIAR_HEADERS_TIMEOUT_MS: '20000', ORMIAR_REQUEST_TIMEOUT_MS: '10000' })).toThrow(EnvError);
    expect(() => parseEnv({ ORMIAR_MAX_CONNECTIONS_PER_ADDRESS: 'many' })).toThrow(/ORMIAR_MAX_CONNECTIONS_PER_ADDRESS/);
  });
});

describe('connections per address', () => {
  /** A kept-alive connection that has been answered once (so the server has surely counted it). */
  function openConnection(url: string, localAddress?: string): Promise<{ socket: net.Socket; answered: boolean }> {
    const { port, hostname } = new URL(url);
    return new Promise((done) => {
      const socket = net.connect({ port: Number(port), host: hostname, localAddress }, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      sockets.push(socket);
      socket.once('data', () => done({ socket, answered: true }));
      socket.once('close', () => done({ socket, answered: false }));
      socket.on('error', () => undefined);
    });
  }

  it('one address holds at most ORMIAR_MAX_CONNECTIONS_PER_ADDRESS; the next is closed at once; other addresses are not affected', async () => {
    const srv = await server({ ORMIAR_MAX_CONNECTIONS_PER_ADDRESS: '5' });
    const held = await Promise.all(Array.from({ length: 5 }, () => openConnection(srv.url)));
    expect(held.map((h) => h.answered)).toEqual([true, true, true, true, true]);
    const sixth = await openConnection(srv.url);
    expect(sixth.answered).toBe(false);
    // 127.0.0.2 is another client address (Linux routes all of 127/8 to loopback).
    expect((await openConnection(srv.url, '127.0.0.2')).answered).toBe(true);
    // A slot freed is a slot available.
    const closed = new Promise((r) => held[0]?.socket.once('close', r));
    held[0]?.socket.destroy();
    await closed;
    let again = await openConnection(srv.url);
    // The server learns of the close asynchronously: allow it a moment, without timing the assertion.
    for (let i = 0; i < 20 && !again.answered; i++) {
      await new Promise((r) => setTimeout(r, 25));
      again = await openConnection(srv.url);
    }
    expect(again.answered).toBe(true);
  });

  it('0 turns the cap off (behind a reverse proxy every connection comes from the proxy)', async () => {
    const srv = await server({ ORMIAR_MAX_CONNECTIONS_PER_ADDRESS: '0' });
    const held = await Promise.all(Array.from({ length: 30 }, () => openConnection(srv.url)));
    expect(held.every((h) => h.answered)).toBe(true);
  });
});

describe('a key-guessing loop', () => {
  function getFrom(localAddress: string, url: string, token: string): Promise<number> {
    return new Promise((done, fail) => {
      http
        .get(`${url}/v1/bots`, { localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode ?? 0));
        })
        .once('error', fail);
    });
  }

  it('gets 20 answers, then only 429 — even for the right key — while other addresses are served', async () => {
    const srv = await server();
    const t = await srv.tenant('business');
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      // The attacker's 60th guess is right: it is refused all the same.
      const guess = i === 59 ? t.token : `${TOKEN_PREFIX}${randomToken(32)}`;
      statuses.push(await getFrom('127.0.0.3', srv.url, guess));
    }
    expect(statuses.slice(0, 20)).toEqual(Array.from({ length: 20 }, () => 401));
    expect(statuses.slice(20)).toEqual(Array.from({ length: 80 }, () => 429));
    expect(await getFrom('127.0.0.4', srv.url, t.token)).toBe(200);
  });
});

describe('secrets never reach the log', () => {
  it('tokens, webhook secrets, phones and emails are absent from everything logged (trace level), crashes included', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const srv = await server({ ...(onPostgres() ? {} : { DATABASE_PATH: tempDbPath() }), LOG_LEVEL: 'trace', ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' }, { logDestination: sink });
    const t = await srv.tenant('enterprise');
    const secrets: string[] = [t.token, INTERNAL_TOKEN];
    const pii = ['+14155550987', 'secret.person@example.com', '+4930123456789', 'other.person@example.org'];
    const auth = { token: t.token };

    // Authenticated work, /v1 and /trpc (an API key and the service token), successes and refusals.
    const lead = await srv.call('POST', '/v1/leads', { ...auth, body: { bot_id: t.botId, name: 'Secret Person', phone: pii[0], email: pii[1], status: 'qualified' } });
    expect(lead.status).toBe(201);
    expect((await srv.call('PATCH', `/v1/leads/${lead.body.id}`, { ...auth, body: { phone: pii[2], email: pii[3] } })).status).toBe(200);
    expect((await srv.call('GET', `/v1/leads?limit=5`, auth)).status).toBe(200);
    const admin = trpcClient(srv, INTERNAL_TOKEN);
    const fresh = await admin.admin.keys.create.mutate({ client_id: t.clientId, name: 'second' });
    secrets.push(fresh.token);
    expect((await trpcClient(srv, fresh.token).leads.get.query({ lead_id: String(lead.body.id) })).phone).toBe(pii[2]);
    const endpoint = await srv.call('POST', '/v1/webhooks/endpoints', { ...auth, body: { url: 'https://8.8.8.8/hooks' } });
    expect(endpoint.status).toBe(201);
    secrets.push(endpoint.body.secret);
    const rotated = await srv.call('POST', `/v1/webhooks/endpoints/${endpoint.body.id}/rotate-secret`, auth);
    secrets.push(rotated.body.secret);
    // Validation errors that carry contact details in the input.
    expect((await srv.call('POST', '/v1/leads', { ...auth, body: { bot_id: t.botId, name: 'X', phone: `${pii[0]}99999`, email: `${pii[1]}@` } })).status).toBe(400);

    // Failed authentication: guessed keys, Basic credentials, a wrong service token.
    const guesses = [`${TOKEN_PREFIX}${randomToken(32)}`, `${TOKEN_PREFIX}${randomToken(32)}`];
    secrets.push(...guesses);
    for (const guess of guesses) expect((await srv.call('GET', '/v1/bots', { token: guess })).status).toBe(401);
    expect((await srv.call('GET', '/v1/bots', { headers: { authorization: 'Basic c2VjcmV0LXVzZXI6aHVudGVyMg==' } })).status).toBe(401);
    secrets.push('c2VjcmV0LXVzZXI6aHVudGVyMg==');
    const wrongService = 'wrong-service-token-0123456789';
    secrets.push(wrongService);
    expect((await srv.call('POST', '/trpc/admin.clients.create', { token: wrongService, body: { name: 'x', plan: 'starter' } })).status).toBe(401);

    // Real crashes: first while running statements with the contact details bound (a trigger aborts
    // them), then while preparing them (the table is gone).
    const writes = [
      ['POST', '/v1/leads', { bot_id: t.botId, name: 'Crash Person', phone: pii[0], email: pii[1] }],
      ['PATCH', `/v1/leads/${lead.body.id}`, { phone: pii[0], email: pii[1] }],
    ] as const;
    const crashAll = async () => {
      for (const [method, path, body] of writes) expect((await srv.call(method, path, { ...auth, body })).status).toBe(500);
      const viaTrpc = await srv.call('POST', '/trpc/leads.create', { ...auth, body: writes[0][2] });
      expect(viaTrpc.status).toBe(500);
    };
    // The same triggers in each engine's dialect.
    await dbRun(
      srv,
      onPostgres()
        ? `CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'crash'; END $$;
           CREATE TRIGGER crash_insert BEFORE INSERT ON leads FOR EACH ROW EXECUTE FUNCTION crash();
           CREATE TRIGGER crash_update BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crash();`
        : `CREATE TRIGGER crash_insert BEFORE INSERT ON leads BEGIN SELECT RAISE(ABORT, 'crash'); END;
           CREATE TRIGGER crash_update BEFORE UPDATE ON leads BEGIN SELECT RAISE(ABORT, 'crash'); END;`,
    );
    await crashAll();
    // PostgreSQL drops a table others reference only with those references (CASCADE).
    await dbRun(srv, onPostgres() ? 'DROP TABLE leads CASCADE' : 'DROP TABLE leads');
    await crashAll();

    const log = lines.join('');
    // The capture works: the crashes were logged, with their request ids.
    expect(log).toContain('unexpected error');
    expect(lines.filter((l) => l.includes('unexpected error')).length).toBeGreaterThanOrEqual(6);
    const found = [...secrets, ...pii].filter((s) => log.includes(s));
    expect(found, 'secrets or personal data in the log').toEqual([]);
    // Not even the digits of a phone number, however formatted.
    for (const phone of pii.filter((p) => p.startsWith('+'))) expect(log).not.toContain(phone.slice(1));
  });
});
