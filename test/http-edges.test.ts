// Issue 13, defect 7: every answer inside the contract, including the ones Node's HTTP layer would
// write by itself — absolute-form targets routed, Node's 400/408/413/417/431 with the contract's body
// and X-Request-Id, two Authorization headers refused, and an aborted upload logged without a stack.
import { dbCount } from './helpers/db';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/harness';

const servers: TestServer[] = [];
async function server(env: Record<string, string> = {}, overrides: Parameters<typeof startTestServer>[1] = {}) {
  const srv = await startTestServer(env, overrides);
  servers.push(srv);
  return srv;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: { error?: { code?: string; message?: string; request_id?: string }; data?: unknown } | undefined;
  raw: string;
}

function parseAnswer(raw: string): RawAnswer {
  // A 100 Continue may precede the final answer.
  const final = raw.replace(/^HTTP\/1\.1 100 Continue\r\n(?:[^\r\n]+\r\n)*\r\n/, '');
  const split = final.indexOf('\r\n\r\n');
  const head = split === -1 ? final : final.slice(0, split);
  const text = split === -1 ? '' : final.slice(split + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body: RawAnswer['body'];
  try {
    body = text ? (JSON.parse(text) as RawAnswer['body']) : undefined;
  } catch {
    body = undefined;
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]), headers, body, raw };
}

/**
 * Sends raw bytes and collects everything until the server closes, or until one complete answer
 * (by Content-Length) has arrived. `then` is sent after the first bytes come back (100 Continue).
 */
function rawExchange(url: string, request: string, opts: { then?: string } = {}): Promise<RawAnswer> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(port), host: hostname }, () => socket.write(request));
    let received = '';
    let sentRest = false;
    const finish = () => {
      socket.destroy();
      resolve(parseAnswer(received));
    };
    const timer = setTimeout(finish, 5_000);
    socket.on('data', (d: Buffer) => {
      received += d.toString('utf8');
      if (opts.then !== undefined && !sentRest && received.startsWith('HTTP/1.1 100')) {
        sentRest = true;
        socket.write(opts.then);
      }
      const answer = parseAnswer(received);
      const length = Number(answer.headers.get('content-length'));
      if (answer.status && answer.status !== 100 && Number.isFinite(length) && Buffer.byteLength(received.slice(received.lastIndexOf('\r\n\r\n') + 4)) >= length) {
        clearTimeout(timer);
        finish();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswer(received));
    });
  });
}

function expectContractError(answer: RawAnswer, status: number): void {
  expect(answer.status, answer.raw).toBe(status);
  const id = answer.headers.get('x-request-id');
  expect(id).toMatch(/^req_/);
  expect(answer.body?.error).toMatchObject({ code: 'BAD_REQUEST', request_id: id });
  expect(answer.body?.error?.message).toEqual(expect.any(String));
}

describe('answers Node would write by itself carry the contract body and X-Request-Id', () => {
  it('HTTP/1.1 without Host: 400', async () => {
    const srv = await server();
    expectContractError(await rawExchange(srv.url, 'GET /healthz HTTP/1.1\r\n\r\n'), 400);
    // HTTP/1.0 needs no Host.
    expect((await rawExchange(srv.url, 'GET /healthz HTTP/1.0\r\n\r\n')).status).toBe(200);
  });

  it('an expectation other than 100-continue: 417, and nothing is created', async () => {
    const srv = await server();
    const t = await srv.tenant('business');
    const body = JSON.stringify({ bot_id: t.botId, name: 'Expecting' });
    const answer = await rawExchange(
      srv.url,
      `POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: application/json\r\nExpect: x-magic\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expectContractError(answer, 417);
    expect(await dbCount(srv, 'SELECT count(*) AS n FROM leads')).toBe(0);
  });

  it('Expect: 100-continue: an oversized declared body gets its 413 before it is sent; a fitting one gets 100 and is served', async () => {
    const srv = await server();
    const t = await srv.tenant('business');
    const big = await rawExchange(
      srv.url,
      `POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n`,
    );
    expect(big.raw.startsWith('HTTP/1.1 100')).toBe(false);
    expect(big.status).toBe(413);
    expect(big.body?.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', request_id: big.headers.get('x-request-id') });

    const body = JSON.stringify({ bot_id: t.botId, name: 'Continued' });
    const ok = await rawExchange(
      srv.url,
      `POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`,
      { then: body },
    );
    expect(ok.raw.startsWith('HTTP/1.1 100 Continue')).toBe(true);
    expect(ok.status).toBe(201);
  });

  it('a declared body over 64 KiB: 413; headers over 16 KiB: 431; headers too slow: 408', async () => {
    const srv = await server({ ORMIAR_HEADERS_TIMEOUT_MS: '300', ORMIAR_REQUEST_TIMEOUT_MS: '600' });
    const large = await rawExchange(srv.url, 'POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n');
    expect(large.status).toBe(413);
    expect(large.body?.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', request_id: large.headers.get('x-request-id') });
    expectContractError(await rawExchange(srv.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`), 431);
    expectContractError(await rawExchange(srv.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n'), 408);
  });
});

describe('request targets', () => {
  it('an absolute-form target is routed like its origin-form', async () => {
    const srv = await server();
    const t = await srv.tenant('business');
    const { host } = new URL(srv.url);
    const answer = await rawExchange(srv.url, `GET http://${host}/v1/bots?limit=5 HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${t.token}\r\n\r\n`);
    expect(answer.status, answer.raw).toBe(200);
    expect(answer.body?.data).toEqual([expect.objectContaining({ id: t.botId })]);
    // The authority stands in for a missing Host (RFC 9112 §3.2.2).
    expect((await rawExchange(srv.url, `GET HTTPS://${host}/healthz HTTP/1.1\r\n\r\n`)).status).toBe(200);
    const unknown = await rawExchange(srv.url, `GET http://${host}/v1/nothing-here HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${t.token}\r\n\r\n`);
    expect(unknown.status).toBe(404);
    expect(unknown.body?.error).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('credentials', () => {
  it('two Authorization headers: 400 BAD_REQUEST, whatever they hold', async () => {
    const srv = await server();
    const a = await srv.tenant('business');
    const b = await srv.tenant('business');
    for (const second of [b.token, a.token, 'nonsense']) {
      const answer = await rawExchange(
        srv.url,
        `GET /v1/bots HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.token}\r\nauthorization: Bearer ${second}\r\n\r\n`,
      );
      expectContractError(answer, 400);
    }
    // /trpc too.
    const trpc = await rawExchange(srv.url, `GET /trpc/bots.list?input=%7B%7D HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.token}\r\nAuthorization: Bearer ${b.token}\r\n\r\n`);
    expect(trpc.status).toBe(400);
  });
});

describe('a client that aborts its upload', () => {
  it('is logged at info with aborted: true, never at error and never with a stack', async () => {
    const lines: string[] = [];
    const srv = await server({ LOG_LEVEL: 'debug' }, { logDestination: { write: (line: string) => void lines.push(line) } });
    const t = await srv.tenant('business');
    const { port, hostname } = new URL(srv.url);
    for (const path of ['/v1/leads', '/trpc/leads.create']) {
      await new Promise<void>((resolve) => {
        const socket = net.connect({ port: Number(port), host: hostname }, () => {
          socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"bot_id":`);
          setTimeout(() => socket.destroy(), 100);
        });
        socket.on('close', () => resolve());
        socket.on('error', () => undefined);
      });
    }
    await expect.poll(() => lines.filter((l) => l.includes('"aborted":true')).length, { timeout: 3_000 }).toBe(2);
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(parsed.filter((l) => l.level >= 50)).toEqual([]);
    expect(lines.join('\n')).not.toMatch(/"stack"/);
    expect(parsed.find((l) => l.msg.includes('aborted'))?.level).toBe(30);
  });
});

describe('draining (SIGTERM)', () => {
  it('a kept-alive connection gets /readyz 503 draining with Connection: close; new connections are refused; close waits for it', async () => {
    // Idle connections are left to their clients for a while (as in production), not cut at once.
    const srv = await server({}, { drainIdleMs: 5_000 });
    const { port } = new URL(srv.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let raw = '';
    socket.on('data', (c: Buffer) => (raw += c.toString()));
    const ask = async (path: string) => {
      raw = '';
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      while (!/\r\n\r\n[\s\S]*\}/.test(raw)) await new Promise((r) => setTimeout(r, 5));
      return parseAnswer(raw);
    };
    expect((await ask('/readyz')).status).toBe(200);
    let closed = false;
    const closing = srv.close().then(() => (closed = true));
    servers.splice(servers.indexOf(srv), 1);
    const during = await ask('/readyz');
    expect(during.status).toBe(503);
    expect(during.body).toEqual({ status: 'draining' });
    expect(during.headers.get('connection')).toBe('close');
    // A new connection is refused.
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1');
      s.once('connect', () => resolve('connected'));
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    // The server closed that connection after its answer, and is closed.
    await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
    await closing;
    expect(closed).toBe(true);
  });
});
