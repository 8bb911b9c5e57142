// The deliveries port (db/ports/deliveries.ts) on SQLite. One worker per database file delivers: the
// holder of the `webhooks` row of worker_leases. Claims move a delivery's next_attempt_at to the claim's
// lapse and stamp claimed_by, so a worker killed mid-delivery leads to a retry, never a loss. Every
// claim runs in one IMMEDIATE transaction that checks the lease, counts live claims (a small partial
// index) and picks fairly from each due endpoint's head (a loose scan of another), so the bounds hold
// for every process sharing the file; a refill after deliveries finish looks at their endpoints alone
// while the bounds leave headroom, and shares the commit that records them. Synchronous inside; the
// promises it returns are settled.
import type Database from 'better-sqlite3';
import type { Db } from './connection';
import {
  dueEndpoints,
  fairShares,
  liveClaims,
  refillShares,
  toClaimed,
  type AttemptOutcome,
  type ClaimedDelivery,
  type ClaimRequest,
  type DecideFailure,
  type DeliveriesRepository,
  type EndpointHead,
  type LeaseResult,
  type RecordResult,
  type WorkerIdentity,
} from '../ports/deliveries';
import type { DisabledReason } from '../ports/rows';

const LEASE_NAME = 'webhooks';
const FAIL_PENDING = `UPDATE webhook_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL, claimed_by = NULL, manual_retry = 0
  WHERE endpoint_id = ? AND status = 'pending'`;

// SQL text, compiled once per connection: drizzle builds its SQL anew on every call, which cost more
// CPU than SQLite running it on this path.
const SQL = {
  lease: `SELECT owner, host, pid, lease_until AS until FROM worker_leases WHERE name = ?`,
  takeLease: `INSERT INTO worker_leases (name, owner, host, pid, lease_until) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, host = excluded.host, pid = excluded.pid, lease_until = excluded.lease_until`,
  dropLease: `DELETE FROM worker_leases WHERE name = ? AND owner = ?`,
  orphans: `UPDATE webhook_deliveries INDEXED BY webhook_deliveries_claims_idx SET claimed_by = NULL, next_attempt_at = ?
    WHERE status = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> ?`,
  // From the due index alone.
  anyDue: `SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1`,
  backlog: `SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?`,
  live: `SELECT client_id AS clientId, endpoint_id AS endpointId, count(*) AS n FROM webhook_deliveries
    WHERE status = 'pending' AND claimed_by IS NOT NULL AND next_attempt_at > ? GROUP BY client_id, endpoint_id`,
  // Endpoints with pending deliveries, one index seek each (a loose scan), with each one's head: a
  // backlog behind one endpoint is never walked to reach another's.
  dueEndpoints: `WITH RECURSIVE ep(id) AS (
      SELECT (SELECT endpoint_id FROM webhook_deliveries WHERE status = 'pending' ORDER BY endpoint_id LIMIT 1)
      UNION ALL
      SELECT (SELECT endpoint_id FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id > ep.id ORDER BY endpoint_id LIMIT 1)
      FROM ep WHERE ep.id IS NOT NULL
    )
    SELECT ep.id AS endpointId, e.client_id AS clientId,
      (SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id = ep.id ORDER BY next_attempt_at LIMIT 1) AS oldest
    FROM ep JOIN webhook_endpoints e ON e.id = ep.id`,
  // The same for the given endpoints only (a refill).
  theseEndpoints: `SELECT e.id AS endpointId, e.client_id AS clientId,
      (SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id = e.id ORDER BY next_attempt_at LIMIT 1) AS oldest
    FROM webhook_endpoints e WHERE e.id IN (SELECT value FROM json_each(?))`,
  // An endpoint's oldest due deliveries, with what sending them needs.
  take: `SELECT d.rowid AS rowid, d.id AS id, d.client_id AS clientId, d.endpoint_id AS endpointId, d.event_id AS eventId,
      d.attempts AS attempts, d.manual_retry AS manualRetry, e.url AS url, e.enabled AS enabled, e.secret AS secret,
      e.previous_secret AS previousSecret, e.previous_secret_expires_at AS previousSecretExpiresAt,
      ev.payload AS payload, c.plan AS plan
    FROM webhook_deliveries d INDEXED BY webhook_deliveries_endpoint_due_idx
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    JOIN events ev ON ev.id = d.event_id
    JOIN clients c ON c.id = d.client_id
    WHERE d.status = 'pending' AND d.endpoint_id = ? AND d.next_attempt_at <= ?
    ORDER BY d.next_attempt_at LIMIT ?`,
  claim: `UPDATE webhook_deliveries SET claimed_by = ?, next_attempt_at = ? WHERE rowid IN (SELECT value FROM json_each(?))`,
  refuse: `UPDATE webhook_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL, claimed_by = NULL, manual_retry = 0
    WHERE id = ? AND claimed_by = ? AND status = 'pending'`,
  // Success in one statement: only while this worker still holds it (not released, disabled, deleted, pruned).
  succeeded: `UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, last_attempt_at = ?, last_status_code = ?,
      last_error = NULL, next_attempt_at = NULL, claimed_by = NULL, manual_retry = 0
    WHERE id = ? AND claimed_by = ? AND status = 'pending'`,
  attempt: `INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?)`,
  streakEnds: `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`,
  mine: `SELECT d.attempts AS attempts, d.manual_retry AS manualRetry, e.failing_since AS failingSince
    FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
    WHERE d.id = ? AND d.claimed_by = ? AND d.status = 'pending'`,
  streak: `UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?`,
  failed: `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_attempt_at = ?, last_status_code = ?, last_error = ?,
      next_attempt_at = ?, claimed_by = NULL, manual_retry = 0
    WHERE id = ?`,
  disable: `UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?`,
  release: `UPDATE webhook_deliveries INDEXED BY webhook_deliveries_claims_idx SET claimed_by = NULL, next_attempt_at = ? WHERE claimed_by = ? AND status = 'pending'`,
  prune: `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
} as const;

interface PickedRow {
  rowid: number;
  id: string;
  clientId: string;
  endpointId: string;
  eventId: string;
  attempts: number;
  manualRetry: number;
  url: string;
  enabled: number;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  payload: string;
  plan: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function sqliteDeliveries(db: Db): DeliveriesRepository {
  const sqlite: Database.Database = db.$client;
  const statements = new Map<string, Database.Statement>();
  const st = (source: string): Database.Statement => {
    let s = statements.get(source);
    if (!s) {
      s = sqlite.prepare(source);
      statements.set(source, s);
    }
    return s;
  };

  const holdLease = (me: WorkerIdentity, now: number, ttlMs: number): LeaseResult =>
    sqlite
      .transaction((): LeaseResult => {
        const row = st(SQL.lease).get(LEASE_NAME) as { owner: string; host: string; pid: number; until: number } | undefined;
        const mine = row?.owner === me.owner;
        // A holder killed on this host is seen at once (its pid is gone), elsewhere when its lease runs out.
        const vacant = !row || row.until <= now || (row.host === me.host && row.pid !== me.pid && !processAlive(row.pid));
        if (!mine && !vacant) return { held: false, acquired: false, until: row?.until ?? 0, tookOver: 0 };
        const until = now + ttlMs;
        st(SQL.takeLease).run(LEASE_NAME, me.owner, me.host, me.pid, until);
        // Whoever held deliveries before this worker took the lease no longer runs: they are due now.
        const tookOver = mine ? 0 : st(SQL.orphans).run(now, me.owner).changes;
        return { held: true, acquired: !mine, until, tookOver };
      })
      .immediate();

  const anyDue = (req: ClaimRequest) => req.limit > 0 && st(SQL.anyDue).get(req.now) !== undefined;

  /** The claim, inside the caller's IMMEDIATE transaction (a full claim once a delivery is known to be due). */
  function claimIn(req: ClaimRequest): ClaimedDelivery[] {
    const lease = st(SQL.lease).get(LEASE_NAME) as { owner: string; until: number } | undefined;
    if (lease?.owner !== req.owner || lease.until <= req.now) return [];
    const live = liveClaims(st(SQL.live).all(req.now) as { clientId: string; endpointId: string; n: number }[]);
    if (live.overall >= req.bounds.overall) return [];
    // A refill looks at the freed endpoints alone when it can (refillShares); else a full claim over every
    // endpoint with pending deliveries (the caller checked one is due, or here).
    const shares =
      (req.endpoints && refillShares(st(SQL.theseEndpoints).all(JSON.stringify(req.endpoints)) as EndpointHead[], live, req)) ??
      (!req.endpoints || anyDue(req) ? fairShares(dueEndpoints(st(SQL.dueEndpoints).all() as EndpointHead[], req), live, req.bounds, req.limit) : new Map<string, number>());
    const rows: PickedRow[] = [];
    for (const [endpointId, n] of shares) rows.push(...(st(SQL.take).all(endpointId, req.now, n) as PickedRow[]));
    if (rows.length === 0) return [];
    st(SQL.claim).run(req.owner, req.leaseUntil, JSON.stringify(rows.map((r) => r.rowid)));
    return rows.map((r) => toClaimed({ ...r, enabled: r.enabled === 1, manualRetry: r.manualRetry === 1 }, req.leaseUntil));
  }

  // A cheap read first: an idle worker never takes the write lock.
  const claim = (req: ClaimRequest): ClaimedDelivery[] => (anyDue(req) ? sqlite.transaction(() => claimIn(req)).immediate() : []);

  const record = (owner: string, outcomes: AttemptOutcome[], decide: DecideFailure, now: number, refill?: ClaimRequest): RecordResult =>
    sqlite
      .transaction((): RecordResult => {
        const result: RecordResult = { recorded: 0, disabled: [], claimed: [] };
        for (const o of outcomes) {
          if (o.ok) {
            // Released, disabled, deleted or pruned meanwhile: nothing to record.
            if (st(SQL.succeeded).run(o.startedAt, o.statusCode, o.deliveryId, owner).changes === 0) continue;
            st(SQL.attempt).run(o.deliveryId, o.startedAt, o.statusCode, o.latencyMs, o.error);
            st(SQL.streakEnds).run(o.endpointId);
            result.recorded++;
            continue;
          }
          const row = st(SQL.mine).get(o.deliveryId, owner) as { attempts: number; manualRetry: number; failingSince: number | null } | undefined;
          if (!row) continue;
          const attempts = row.attempts + 1;
          st(SQL.attempt).run(o.deliveryId, o.startedAt, o.statusCode, o.latencyMs, o.error);
          const verdict = decide(o, { attempts, manualRetry: row.manualRetry === 1, failingSince: row.failingSince, now });
          const last = [attempts, o.startedAt, o.statusCode, o.error] as const;
          if (verdict.failingSince !== row.failingSince) st(SQL.streak).run(verdict.failingSince, o.endpointId);
          if (verdict.next === 'disable') {
            st(SQL.failed).run('failed', ...last, null, o.deliveryId);
            disable(o.endpointId, verdict.reason, now);
            result.disabled.push({ endpointId: o.endpointId, reason: verdict.reason });
          } else if (verdict.next === 'retry') {
            st(SQL.failed).run('pending', ...last, verdict.at, o.deliveryId);
          } else {
            st(SQL.failed).run('failed', ...last, null, o.deliveryId);
          }
          result.recorded++;
        }
        // The slots that freed, claimed in the same commit.
        if (refill && refill.limit > 0 && (refill.endpoints || anyDue(refill))) result.claimed = claimIn(refill);
        return result;
      })
      .immediate();

  function disable(endpointId: string, reason: DisabledReason, now: number) {
    st(SQL.disable).run(reason, now, endpointId);
    st(FAIL_PENDING).run(`Endpoint disabled: ${reason}`, endpointId);
  }

  const settled = <T>(run: () => T): Promise<T> => {
    try {
      return Promise.resolve(run());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };

  return {
    holdLease: (me, now, ttlMs) => settled(() => holdLease(me, now, ttlMs)),
    releaseLease: (me) => settled(() => void st(SQL.dropLease).run(LEASE_NAME, me.owner)),
    claim: (req) => settled(() => claim(req)),
    refuse: (owner, refusals) =>
      settled(() => {
        if (refusals.length === 0) return;
        sqlite.transaction(() => {
          for (const r of refusals) st(SQL.refuse).run(r.reason, r.deliveryId, owner);
        })();
      }),
    record: (owner, outcomes, decide, now, refill) => settled(() => record(owner, outcomes, decide, now, refill)),
    backlog: (now) => settled(() => (st(SQL.backlog).get(now) as { n: number }).n),
    release: (owner, now) => settled(() => st(SQL.release).run(now, owner).changes),
    pruneEvents: (before, batch) => settled(() => sqlite.transaction(() => st(SQL.prune).run(before, batch).changes).immediate()),
  };
}
