// Kept-alive connections for webhook deliveries that keep the SSRF guarantee. An agent is made for one
// (host, port, vetted address set) and its `lookup` can only answer with those addresses, so every socket
// it holds was connected to an address that was checked. Each delivery still resolves and checks the
// host (guard.ts), then takes the agent of exactly the answer it checked: a changed answer gets another
// agent, and an address that turned private is refused before any agent is chosen.
// Bounded: at most `maxAgents` agents (least recently used idle ones are closed first), `maxSockets`
// sockets each, and `maxIdleSockets` idle sockets in all (those of the least recently used agents are
// closed first); an idle socket is closed after `idleMs` (or sooner when the receiver's Keep-Alive
// header says so).
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { ResolvedAddress } from './guard';

export interface AgentPoolOptions {
  maxAgents: number;
  /** Sockets per agent, in use or idle (the worker's own limits keep in-flight deliveries lower). */
  maxSockets: number;
  /** Idle sockets across all agents. */
  maxIdleSockets: number;
  idleMs: number;
  /** Trust anchors, built once (a context per connection costs more CPU than the rest of an attempt). */
  secureContext?: SecureContext | undefined;
}

interface Entry {
  agent: https.Agent;
  active: number;
  lastUsed: number;
}

export interface Lease {
  agent: https.Agent;
  release(): void;
}

/** A `lookup` that can only answer with `addresses` (in their order, filtered by a requested family). */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    const first = wanted[0];
    if (!first) {
      callback(Object.assign(new Error('No vetted address of the requested family'), { code: 'ENOTFOUND' }), '', 0);
      return;
    }
    if (options.all) callback(null, wanted.map((a): LookupAddress => ({ address: a.address, family: a.family })));
    else callback(null, first.address, first.family);
  };
}

// How often the idle-socket bound is enforced (it walks every agent).
const IDLE_CHECK_MS = 100;

function freeCount(agent: https.Agent): number {
  let n = 0;
  for (const list of Object.values(agent.freeSockets)) n += list?.length ?? 0;
  return n;
}

export class AgentPool {
  // Map order is recency order: an entry is moved to the end whenever it is used.
  private readonly entries = new Map<string, Entry>();
  private lastSweep = 0;
  private lastIdleCheck = 0;

  constructor(private readonly opts: AgentPoolOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /** Open sockets across all agents, in use or idle. */
  sockets(): number {
    let n = 0;
    for (const e of this.entries.values()) {
      for (const list of Object.values(e.agent.sockets)) n += list?.length ?? 0;
      n += freeCount(e.agent);
    }
    return n;
  }

  /** The agent for `host:port` whose sockets go only to `addresses` (all of them vetted by the caller). */
  acquire(host: string, port: number, addresses: readonly ResolvedAddress[]): Lease {
    const now = Date.now();
    // The set, not the order: round-robin DNS that reorders the same answers keeps its connections.
    const key = `${host}|${port}|${addresses.map((a) => a.address).sort().join(',')}`;
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    else {
      entry = {
        agent: new https.Agent({
          keepAlive: true,
          maxSockets: this.opts.maxSockets,
          // An agent keeps as many idle sockets as it may have (endpoints on one host share it);
          // the pool bounds the idle ones in all.
          maxFreeSockets: this.opts.maxSockets,
          // Idle sockets time out and are closed; the receiver's `Keep-Alive: timeout=` shortens it.
          timeout: this.opts.idleMs,
          scheduling: 'lifo',
          // Agent options override request options: no request can point this agent elsewhere.
          lookup: pinnedLookup([...addresses]),
          ...(this.opts.secureContext ? { secureContext: this.opts.secureContext } : {}),
        } as https.AgentOptions),
        active: 0,
        lastUsed: now,
      };
    }
    this.entries.set(key, entry);
    entry.active++;
    entry.lastUsed = now;
    this.evict(now);
    const held = entry;
    let released = false;
    return {
      agent: held.agent,
      release: () => {
        if (released) return;
        released = true;
        held.active--;
        held.lastUsed = Date.now();
      },
    };
  }

  private evict(now: number) {
    if (now - this.lastIdleCheck >= IDLE_CHECK_MS) {
      this.lastIdleCheck = now;
      this.trimIdleSockets();
    }
    const sweep = now - this.lastSweep >= this.opts.idleMs;
    if (sweep) this.lastSweep = now;
    if (!sweep && this.entries.size <= this.opts.maxAgents) return;
    let over = this.entries.size - this.opts.maxAgents;
    for (const [key, e] of this.entries) {
      if (e.active > 0) continue;
      // Oldest first: over the bound, or idle long enough that its sockets have timed out anyway.
      if (over > 0 || now - e.lastUsed >= this.opts.idleMs) {
        e.agent.destroy();
        this.entries.delete(key);
        over--;
      } else if (over <= 0) break;
    }
  }

  /** Closes idle sockets over `maxIdleSockets`, those of the least recently used agents first. */
  private trimIdleSockets() {
    let idle = 0;
    for (const e of this.entries.values()) idle += freeCount(e.agent);
    for (const e of this.entries.values()) {
      if (idle <= this.opts.maxIdleSockets) return;
      for (const list of Object.values(e.agent.freeSockets)) {
        for (const socket of [...(list ?? [])]) {
          if (idle <= this.opts.maxIdleSockets) return;
          socket.destroy();
          idle--;
        }
      }
    }
  }

  /** Closes every socket (worker stop). */
  destroy(): void {
    for (const e of this.entries.values()) e.agent.destroy();
    this.entries.clear();
  }
}
