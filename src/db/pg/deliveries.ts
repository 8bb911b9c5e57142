// The deliveries port (db/ports/deliveries.ts) on PostgreSQL. Every process delivers (the lease is
// granted to all): the bounds hold across processes because every claim runs in one transaction under
// a transaction advisory lock (claims are serialised; sending is not), counts the live claims there, and
// takes its rows FOR UPDATE SKIP LOCKED. A claim moves next_attempt_at to the claim's lapse and stamps
// claimed_by, so a process killed mid-delivery leads to a retry by another, never a loss. Retention
// pruning is a singleton chore under pg_try_advisory_xact_lock: one process prunes, the others skip.
import type pg from 'pg';
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
  type RecordResult,
} from '../ports/deliveries';
import { ADVISORY } from './client';
import { queryOn } from './sql';
import { inTransaction, mapPgError } from './tx';

const SQL = {
  anyDue: `SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= @now LIMIT 1`,
  backlog: `SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= @now`,
  live: `SELECT client_id AS "clientId", endpoint_id AS "endpointId", count(*) AS n FROM webhook_deliveries
    WHERE status = 'pending' AND claimed_by IS NOT NULL AND next_attempt_at > @now GROUP BY client_id, endpoint_id`,
  // Endpoints with pending deliveries, one index seek each (a loose scan), with each one's head.
  dueEndpoints: `WITH RECURSIVE ep(id) AS (
      SELECT (SELECT endpoint_id FROM webhook_deliveries WHERE status = 'pending' ORDER BY endpoint_id LIMIT 1)
      UNION ALL
      SELECT (SELECT endpoint_id FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id > ep.id ORDER BY endpoint_id LIMIT 1)
      FROM ep WHERE ep.id IS NOT NULL
    )
    SELECT ep.id AS "endpointId", e.client_id AS "clientId",
      (SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id = ep.id ORDER BY next_attempt_at LIMIT 1) AS oldest
    FROM ep JOIN webhook_endpoints e ON e.id = ep.id`,
  theseEndpoints: `SELECT e.id AS "endpointId", e.client_id AS "clientId",
      (SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending' AND endpoint_id = e.id ORDER BY next_attempt_at LIMIT 1) AS oldest
    FROM webhook_endpoints e WHERE e.id = ANY(@ids::text[])`,
  take: `SELECT d.id, d.client_id AS "clientId", d.endpoint_id AS "endpointId", d.event_id AS "eventId",
      d.attempts, d.manual_retry AS "manualRetry", e.url, e.enabled, e.secret,
      e.previous_secret AS "previousSecret", e.previous_secret_expires_at AS "previousSecretExpiresAt",
      ev.payload, c.plan
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    JOIN events ev ON ev.id = d.event_id
    JOIN clients c ON c.id = d.client_id
    WHERE d.status = 'pending' AND d.endpoint_id = @endpointId AND d.next_attempt_at <= @now
    ORDER BY d.next_attempt_at LIMIT @n
    FOR UPDATE OF d SKIP LOCKED`,
  claim: `UPDATE webhook_deliveries SET claimed_by = @owner, next_attempt_at = @leaseUntil WHERE id = ANY(@ids::text[])`,
  refuse: `UPDATE webhook_deliveries SET status = 'failed', last_error = @reason, next_attempt_at = NULL, claimed_by = NULL, manual_retry = false
    WHERE id = @id AND claimed_by = @owner AND status = 'pending'`,
  succeeded: `UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, last_attempt_at = @at, last_status_code = @code,
      last_error = NULL, next_attempt_at = NULL, claimed_by = NULL, manual_retry = false
    WHERE id = @id AND claimed_by = @owner AND status = 'pending'`,
  attempt: `INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, error) VALUES (@id, @at, @code, @latency, @error)`,
  streakEnds: `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = @endpointId AND failing_since IS NOT NULL`,
  mine: `SELECT d.attempts, d.manual_retry AS "manualRetry", e.failing_since AS "failingSince"
    FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
    WHERE d.id = @id AND d.claimed_by = @owner AND d.status = 'pending'
    FOR UPDATE OF d, e`,
  streak: `UPDATE webhook_endpoints SET failing_since = @since WHERE id = @endpointId`,
  failed: `UPDATE webhook_deliveries SET status = @status, attempts = @attempts, last_attempt_at = @at, last_status_code = @code, last_error = @error,
      next_attempt_at = @next, claimed_by = NULL, manual_retry = false
    WHERE id = @id`,
  disable: `UPDATE webhook_endpoints SET enabled = false, disabled_reason = @reason, updated_at = @now WHERE id = @endpointId`,
  failPending: `UPDATE webhook_deliveries SET status = 'failed', last_error = @reason, next_attempt_at = NULL, claimed_by = NULL, manual_retry = false
    WHERE endpoint_id = @endpointId AND status = 'pending'`,
  release: `UPDATE webhook_deliveries SET claimed_by = NULL, next_attempt_at = @now WHERE claimed_by = @owner AND status = 'pending'`,
  prune: `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < @before ORDER BY created_at LIMIT @batch)`,
} as const;

interface PickedRow {
  id: string;
  clientId: string;
  endpointId: string;
  eventId: string;
  attempts: number;
  manualRetry: boolean;
  url: string;
  enabled: boolean;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  payload: string;
  plan: string;
}

export function pgDeliveries(pool: pg.Pool): DeliveriesRepository {
  const root = queryOn(pool);
  const guard = <T>(p: Promise<T>): Promise<T> => p.catch((err: unknown) => Promise.reject(mapPgError(err)));
  const started = new Set<string>();

  async function claimIn(client: pg.PoolClient, req: ClaimRequest): Promise<ClaimedDelivery[]> {
    const q = queryOn(client);
    // One claim at a time across every process: the live-claim count below stays true until COMMIT.
    await q.rows('SELECT pg_advisory_xact_lock(@key)', { key: ADVISORY.deliveryClaims });
    const live = liveClaims(await q.rows<{ clientId: string; endpointId: string; n: number }>(SQL.live, { now: req.now }));
    if (live.overall >= req.bounds.overall) return [];
    const shares =
      (req.endpoints && refillShares(await q.rows<EndpointHead>(SQL.theseEndpoints, { ids: [...req.endpoints] }), live, req)) ??
      fairShares(dueEndpoints(await q.rows<EndpointHead>(SQL.dueEndpoints), req), live, req.bounds, req.limit);
    const rows: PickedRow[] = [];
    for (const [endpointId, n] of shares) rows.push(...(await q.rows<PickedRow>(SQL.take, { endpointId, now: req.now, n })));
    if (rows.length === 0) return [];
    await q.run(SQL.claim, { owner: req.owner, leaseUntil: req.leaseUntil, ids: rows.map((r) => r.id) });
    return rows.map((r) => toClaimed(r, req.leaseUntil));
  }

  // A cheap read first: an idle worker takes no lock.
  const anyDue = async (req: ClaimRequest) => req.limit > 0 && (await root.rows(SQL.anyDue, { now: req.now })).length > 0;
  const claim = async (req: ClaimRequest): Promise<ClaimedDelivery[]> =>
    (await guard(anyDue(req))) ? inTransaction(pool, (client) => claimIn(client, req)) : [];

  async function recordIn(client: pg.PoolClient, owner: string, outcomes: AttemptOutcome[], decide: DecideFailure, now: number): Promise<RecordResult> {
    const q = queryOn(client);
    const result: RecordResult = { recorded: 0, disabled: [], claimed: [] };
    for (const o of outcomes) {
      const attemptRow = { id: o.deliveryId, at: o.startedAt, code: o.statusCode, latency: o.latencyMs, error: o.error };
      if (o.ok) {
        // Released, disabled, deleted, pruned or taken over meanwhile: nothing to record.
        if ((await q.run(SQL.succeeded, { at: o.startedAt, code: o.statusCode, id: o.deliveryId, owner })) === 0) continue;
        await q.run(SQL.attempt, attemptRow);
        await q.run(SQL.streakEnds, { endpointId: o.endpointId });
        result.recorded++;
        continue;
      }
      const row = (await q.rows<{ attempts: number; manualRetry: boolean; failingSince: number | null }>(SQL.mine, { id: o.deliveryId, owner }))[0];
      if (!row) continue;
      const attempts = row.attempts + 1;
      await q.run(SQL.attempt, attemptRow);
      const verdict = decide(o, { attempts, manualRetry: row.manualRetry, failingSince: row.failingSince, now });
      if (verdict.failingSince !== row.failingSince) await q.run(SQL.streak, { since: verdict.failingSince, endpointId: o.endpointId });
      const last = { id: o.deliveryId, attempts, at: o.startedAt, code: o.statusCode, error: o.error };
      if (verdict.next === 'disable') {
        await q.run(SQL.failed, { ...last, status: 'failed', next: null });
        await q.run(SQL.disable, { reason: verdict.reason, now, endpointId: o.endpointId });
        await q.run(SQL.failPending, { endpointId: o.endpointId, reason: `Endpoint disabled: ${verdict.reason}` });
        result.disabled.push({ endpointId: o.endpointId, reason: verdict.reason });
      } else if (verdict.next === 'retry') {
        await q.run(SQL.failed, { ...last, status: 'pending', next: verdict.at });
      } else {
        await q.run(SQL.failed, { ...last, status: 'failed', next: null });
      }
      result.recorded++;
    }
    return result;
  }

  return {
    // Every process delivers on PostgreSQL; a dead process's claims lapse at their leaseUntil and are due again.
    holdLease: async (me, now, ttlMs) => {
      const acquired = !started.has(me.owner);
      started.add(me.owner);
      return { held: true, acquired, until: now + ttlMs, tookOver: 0 };
    },
    releaseLease: async (me) => void started.delete(me.owner),
    claim,
    refuse: async (owner, refusals) => {
      if (refusals.length === 0) return;
      await inTransaction(pool, async (client) => {
        const q = queryOn(client);
        for (const r of refusals) await q.run(SQL.refuse, { reason: r.reason, id: r.deliveryId, owner });
      });
    },
    record: async (owner, outcomes, decide, now, refill) => {
      const result = await inTransaction(pool, (client) => recordIn(client, owner, outcomes, decide, now));
      // The freed slots, claimed right after (a commit of its own).
      if (refill) result.claimed = await claim(refill);
      return result;
    },
    backlog: async (now) => Number((await guard(root.rows<{ n: number }>(SQL.backlog, { now })))[0]?.n ?? 0),
    release: (owner, now) => guard(root.run(SQL.release, { now, owner })),
    pruneEvents: (before, batch) =>
      inTransaction(pool, async (client) => {
        const q = queryOn(client);
        const [got] = await q.rows<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(@key) AS ok', { key: ADVISORY.webhookRetention });
        if (!got?.ok) return 0;
        return q.run(SQL.prune, { before, batch });
      }),
  };
}
