// The per-domain ports on PostgreSQL: the same SQL as the SQLite adapter where the two engines agree
// (row-value keyset seeks, ON CONFLICT upserts), PostgreSQL's own where they do not:
// - bookings: the exclusion constraint `appointments_no_overlap` (drizzle/pg) is the guarantee; its
//   violation, and a deadlock or serialisation failure of the booking write, is AppError CONFLICT;
// - rows read and then changed in a transaction are read FOR UPDATE, so two processes changing one lead
//   (or appointment, or endpoint) take turns as they do on SQLite's single writer;
// - the idempotency claim is INSERT … ON CONFLICT DO NOTHING RETURNING, then a compare-and-set;
// - the per-client endpoint cap is counted under a transaction advisory lock on the client.
import type { KeyUseBuffer } from '../keyUse';
import { MAX_APPOINTMENT_MINUTES } from '../../schemas/calendar';
import { AppError } from '../../lib/errors';
import { DAY_MS } from '../../lib/time';
import type { AppointmentFilter, CalendarRepo, Interval } from '../ports/calendar';
import type { ClientsRepo } from '../ports/clients';
import type { DeliveryFilter, DeliveryReadsRepository } from '../ports/deliveries';
import type { EndpointsRepo } from '../ports/endpoints';
import type { EventFilter, EventsRepo } from '../ports/events';
import type { IdempotencyRepo } from '../ports/idempotency';
import type { Keyset } from '../ports/keyset';
import type { LeadFilter, LeadsRepo } from '../ports/leads';
import type {
  ApiKeyRow,
  AppointmentRow,
  BotRow,
  CalendarSettingsRow,
  ClientRow,
  Plan,
  EventRow,
  IdempotencyRow,
  LeadRow,
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookEndpointRow,
} from '../ports/rows';
import type { DayRow, StatsQuery, StatsRepo } from '../ports/stats';
import { ADVISORY } from './client';
import * as schema from './schema';
import { first, isRetryable, rowParams, tableSql, unprefix, updateSql, type Conn } from './sql';

type Params = Record<string, unknown>;
const forUpdate = (c: Conn) => (c.inTransaction ? ' FOR UPDATE' : '');

async function insertAll(c: Conn, insert: string, t: ReturnType<typeof tableSql>, rows: readonly object[]): Promise<void> {
  if (rows.length === 0) return;
  await c.atomic(async (tx) => {
    for (const row of rows) await tx.run(insert, rowParams(t, row));
  });
}

// ── leads ─────────────────────────────────────────────────────────────────────────────────────────

const L = tableSql(schema.leads);

export function pgLeads(c: Conn): LeadsRepo {
  return {
    findLive: async (clientId, leadId) =>
      first(await c.rows<LeadRow>(`SELECT ${L.select()} FROM leads WHERE id = @leadId AND client_id = @clientId AND deleted_at IS NULL${forUpdate(c)}`, { leadId, clientId })),
    insert: (row) => c.later('leads', L.insert, rowParams(L, row)),
    insertMany: (rows) => insertAll(c, L.insert, L, rows),
    update: async (leadId, change) => {
      const u = updateSql(L, change, 'id = @id');
      if (u) await c.run(u.text, { ...u.params, id: leadId });
    },
    erase: async (leadId, at) =>
      void (await c.run(`UPDATE leads SET name = '', phone = NULL, email = NULL, interest = NULL, metadata = '{}', updated_at = @at, deleted_at = @at WHERE id = @id`, { id: leadId, at })),
    list: (clientId, filter: LeadFilter, page: Keyset) => {
      const where = ['client_id = @clientId', 'deleted_at IS NULL'];
      const params: Params = { clientId, take: page.take };
      if (filter.status !== undefined) (where.push('status = @status'), (params.status = filter.status));
      if (filter.botId !== undefined) (where.push('bot_id = @botId'), (params.botId = filter.botId));
      if (filter.createdFrom !== undefined) (where.push('created_at >= @createdFrom'), (params.createdFrom = filter.createdFrom));
      if (filter.createdBefore !== undefined) (where.push('created_at < @createdBefore'), (params.createdBefore = filter.createdBefore));
      if (page.after) (where.push('(created_at, id) < (@afterAt, @afterId)'), Object.assign(params, { afterAt: page.after.at, afterId: page.after.id }));
      return c.read<LeadRow>(`SELECT ${L.select()} FROM leads WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @take`, params);
    },
    anyOf: async (clientId) => (await c.read('SELECT 1 FROM leads WHERE client_id = @clientId LIMIT 1', { clientId })).length > 0,
  };
}

// ── calendar ──────────────────────────────────────────────────────────────────────────────────────

const A = tableSql(schema.appointments);
const CS = tableSql(schema.calendarSettings);
const MAX_APPOINTMENT_MS = MAX_APPOINTMENT_MINUTES * 60_000;
const OVERLAP = `bot_id = @botId AND status = 'scheduled' AND starts_at > @earliest AND starts_at < @to AND ends_at > @from`;
const window = (botId: string, from: number, to: number) => ({ botId, from, to, earliest: from - MAX_APPOINTMENT_MS });

/** A booking write refused by the exclusion constraint — or aborted by a deadlock or serialisation failure while racing one — is a 409. */
async function booking(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === '23P01' || isRetryable(err)) {
      throw new AppError('CONFLICT', 'The appointment overlaps another scheduled appointment of this bot', { cause: err });
    }
    throw err;
  }
}

export function pgCalendar(c: Conn): CalendarRepo {
  return {
    findAppointment: async (clientId, id) =>
      first(await c.rows<AppointmentRow>(`SELECT ${A.select()} FROM appointments WHERE id = @id AND client_id = @clientId AND deleted_at IS NULL${forUpdate(c)}`, { id, clientId })),
    listAppointments: (f: AppointmentFilter, page: Keyset) => {
      const where = [f.botId !== undefined ? 'bot_id = @botId' : 'client_id = @clientId', 'deleted_at IS NULL'];
      const params: Params = { take: page.take };
      if (f.botId !== undefined) params.botId = f.botId;
      else params.clientId = f.clientId;
      if (f.status !== undefined) (where.push('status = @status'), (params.status = f.status));
      const lower = Math.max(f.startsFrom ?? Number.NEGATIVE_INFINITY, page.after?.at ?? Number.NEGATIVE_INFINITY);
      if (Number.isFinite(lower)) (where.push('starts_at >= @lower'), (params.lower = lower));
      if (f.startsBefore !== undefined) (where.push('starts_at < @before'), (params.before = f.startsBefore));
      if (page.after) (where.push('(starts_at, id) > (@afterAt, @afterId)'), Object.assign(params, { afterAt: page.after.at, afterId: page.after.id }));
      return c.read<AppointmentRow>(`SELECT ${A.select()} FROM appointments WHERE ${where.join(' AND ')} ORDER BY starts_at, id LIMIT @take`, params);
    },
    hasOverlap: async (botId, startsAt, endsAt, exceptId) =>
      (exceptId === undefined
        ? await c.read(`SELECT 1 FROM appointments WHERE ${OVERLAP} LIMIT 1`, window(botId, startsAt, endsAt))
        : await c.read(`SELECT 1 FROM appointments WHERE ${OVERLAP} AND id <> @exceptId LIMIT 1`, { ...window(botId, startsAt, endsAt), exceptId })
      ).length > 0,
    scheduledBetween: (botId, from, to) =>
      c.read<Interval>(`SELECT starts_at AS "startsAt", ends_at AS "endsAt" FROM appointments WHERE ${OVERLAP} ORDER BY starts_at`, window(botId, from, to)),
    scheduledOfClient: (clientId) =>
      c.read<Interval & { botId: string }>(`SELECT bot_id AS "botId", starts_at AS "startsAt", ends_at AS "endsAt" FROM appointments WHERE client_id = @clientId AND status = 'scheduled'`, { clientId }),
    scheduledOfLead: (clientId, leadId) =>
      c.rows<AppointmentRow>(`SELECT ${A.select()} FROM appointments WHERE lead_id = @leadId AND client_id = @clientId AND status = 'scheduled' ORDER BY starts_at, id${forUpdate(c)}`, { leadId, clientId }),
    leadHasScheduled: async (leadId) => (await c.read(`SELECT 1 FROM appointments WHERE lead_id = @leadId AND status = 'scheduled' LIMIT 1`, { leadId })).length > 0,
    insertAppointment: (row) => booking(() => c.run(A.insert, rowParams(A, row))),
    insertAppointments: (rows) => booking(() => insertAll(c, A.insert, A, rows)),
    updateAppointment: async (id, change) => {
      const u = updateSql(A, change, 'id = @id');
      if (u) await booking(() => c.run(u.text, { ...u.params, id }));
    },
    eraseAppointmentsOfLead: async (clientId, leadId, at) =>
      void (await c.run(`UPDATE appointments SET notes = NULL, updated_at = @at, deleted_at = @at WHERE lead_id = @leadId AND client_id = @clientId AND deleted_at IS NULL`, { clientId, leadId, at })),
    findSettings: async (botId) => first(await c.read<CalendarSettingsRow>(`SELECT ${CS.select()} FROM calendar_settings WHERE bot_id = @botId`, { botId })),
    putSettings: async (row) =>
      void (await c.run(
        `${CS.insert} ON CONFLICT (bot_id) DO UPDATE SET timezone = excluded.timezone, working_hours = excluded.working_hours,
          slot_minutes = excluded.slot_minutes, updated_at = excluded.updated_at`,
        rowParams(CS, row),
      )),
  };
}

// ── stats ─────────────────────────────────────────────────────────────────────────────────────────

const ADD = `leads = t.leads + excluded.leads, qualified = t.qualified + excluded.qualified,
  booked = t.booked + excluded.booked, lost = t.lost + excluded.lost,
  appointments_scheduled = t.appointments_scheduled + excluded.appointments_scheduled,
  appointments_cancelled = t.appointments_cancelled + excluded.appointments_cancelled,
  appointments_completed = t.appointments_completed + excluded.appointments_completed`;
const COUNTERS = 'leads, qualified, booked, lost, appointments_scheduled, appointments_cancelled, appointments_completed';
// Many buckets in one statement (arrays, one row each): concurrent adds to one bucket both count. The
// row written is the bucket's shard of this connection (pg_backend_pid() % SHARDS): a bot's creates on
// different connections do not queue on one row lock until COMMIT (it held ingest to ~130 leads/s).
// Reads sum the shards; foldShards() moves ended buckets' shards back into shard 0.
const SHARDS = 16;
const upsert = (table: string) => `INSERT INTO ${table} AS t (client_id, shard, bot_id, bucket, ${COUNTERS})
  SELECT @clientId, pg_backend_pid() % ${SHARDS}, * FROM unnest(@bots::text[], @buckets::bigint[], @leads::int[],
    @qualified::int[], @booked::int[], @lost::int[], @scheduled::int[], @cancelled::int[], @completed::int[])
  ON CONFLICT (client_id, bucket, bot_id, shard) DO UPDATE SET ${ADD}`;
const TABLE = { day: 'stats_daily', hour: 'stats_hourly' } as const;
const UPSERT = { day: upsert(TABLE.day), hour: upsert(TABLE.hour) };
/**
 * A bounded batch of old buckets' shards, summed into shard 0 in one statement (delete + upsert), so a
 * reader sees the same sums before and after. The partial index *_unfolded_idx (shard <> 0) finds them
 * without reading the folded rows, so the chore costs the same at ten rows as at ten million.
 */
const fold = (table: string, p: string) => `${p}_moved AS (
    DELETE FROM ${table} WHERE (client_id, bucket, bot_id, shard) IN (
      SELECT client_id, bucket, bot_id, shard FROM ${table} WHERE shard <> 0 AND bucket < @${p}_before LIMIT @batch)
    RETURNING client_id, bot_id, bucket, ${COUNTERS}),
  ${p}_folded AS (INSERT INTO ${table} AS t (client_id, bot_id, bucket, shard, ${COUNTERS})
    SELECT client_id, bot_id, bucket, 0, sum(leads), sum(qualified), sum(booked), sum(lost), sum(appointments_scheduled),
      sum(appointments_cancelled), sum(appointments_completed) FROM ${p}_moved GROUP BY client_id, bot_id, bucket
    ON CONFLICT (client_id, bucket, bot_id, shard) DO UPDATE SET ${ADD})`;
const FOLD = `WITH ${fold('stats_daily', 'day')}, ${fold('stats_hourly', 'hour')}
  SELECT (SELECT count(*) FROM day_moved) + (SELECT count(*) FROM hour_moved) AS n`;
const SUMS = `sum(leads) AS leads, sum(qualified) AS qualified, sum(booked) AS booked, sum(lost) AS lost,
  sum(appointments_scheduled) AS "appointmentsScheduled", sum(appointments_cancelled) AS "appointmentsCancelled",
  sum(appointments_completed) AS "appointmentsCompleted"`;
const BOT = '(@botId::text IS NULL OR bot_id = @botId::text)';
const SUM = {
  day: `SELECT bucket AS day, ${SUMS} FROM stats_daily WHERE client_id = @clientId AND bucket >= @from AND bucket < @to AND ${BOT} GROUP BY bucket`,
  hour: `SELECT bucket - bucket % ${DAY_MS} AS day, ${SUMS} FROM stats_hourly
    WHERE client_id = @clientId AND bucket >= @from AND bucket < @to AND ${BOT} GROUP BY 1`,
};
const LEAD_ROWS = `SELECT created_at - created_at % ${DAY_MS} AS day, count(*) AS leads,
    count(*) FILTER (WHERE qualified_at IS NOT NULL) AS qualified, count(*) FILTER (WHERE booked_at IS NOT NULL) AS booked,
    count(*) FILTER (WHERE status = 'lost') AS lost
  FROM leads WHERE client_id = @clientId AND created_at >= @from AND created_at < @to AND ${BOT} GROUP BY 1`;
const APPOINTMENT_ROWS = `SELECT starts_at - starts_at % ${DAY_MS} AS day,
    count(*) FILTER (WHERE status = 'scheduled') AS "appointmentsScheduled",
    count(*) FILTER (WHERE status = 'cancelled') AS "appointmentsCancelled",
    count(*) FILTER (WHERE status = 'completed') AS "appointmentsCompleted"
  FROM appointments WHERE client_id = @clientId AND starts_at >= @from AND starts_at < @to AND ${BOT} GROUP BY 1`;

export function pgStats(c: Conn): StatsRepo {
  const params = (q: StatsQuery) => ({ clientId: q.clientId, botId: q.botId, from: q.from, to: q.to });
  return {
    // One queued write per grain: in the change's transaction they go out with the lead and its event (tx.ts).
    add: async (clientId, adds) => {
      for (const grain of ['day', 'hour'] as const) {
        const mine = adds.filter((a) => a.grain === grain);
        if (mine.length === 0) continue;
        const col = (f: (d: (typeof mine)[number]['delta']) => number | undefined) => mine.map((a) => f(a.delta) ?? 0);
        await c.later(TABLE[grain], UPSERT[grain], {
          clientId,
          bots: mine.map((a) => a.botId),
          buckets: mine.map((a) => a.bucket),
          leads: col((d) => d.leads),
          qualified: col((d) => d.qualified),
          booked: col((d) => d.booked),
          lost: col((d) => d.lost),
          scheduled: col((d) => d.appointmentsScheduled),
          cancelled: col((d) => d.appointmentsCancelled),
          completed: col((d) => d.appointmentsCompleted),
        });
      }
    },
    sumBuckets: (grain, q) => c.read<DayRow>(SUM[grain], params(q)),
    countLeadRows: (q) => c.read<DayRow>(LEAD_ROWS, params(q)),
    countAppointmentRows: (q) => c.read<DayRow>(APPOINTMENT_ROWS, params(q)),
    foldShards: (before, batch) =>
      c.atomic(async (tx) => {
        const [got] = await tx.rows<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(@key) AS ok', { key: ADVISORY.statsFold });
        if (!got?.ok) return 0;
        const [moved] = await tx.rows<{ n: number }>(FOLD, { day_before: before.day, hour_before: before.hour, batch });
        return Number(moved?.n ?? 0);
      }),
  };
}

// ── clients, bots, keys ───────────────────────────────────────────────────────────────────────────

const CL = tableSql(schema.clients);
const B = tableSql(schema.bots);
const K = tableSql(schema.apiKeys);


// The bot, its client's plan and one row per enabled endpoint of the client (one row with NULLs when none).
const OWN_BOT_FOR_LEAD = `SELECT ${B.select('b', 'b_')}, c.plan, e.id AS "endpointId", e.events AS "endpointEvents" FROM bots b
  JOIN clients c ON c.id = b.client_id LEFT JOIN webhook_endpoints e ON e.client_id = b.client_id AND e.enabled
  WHERE b.id = @botId AND b.client_id = @clientId`;

export function pgClients(c: Conn, keyUse: KeyUseBuffer): ClientsRepo {
  return {
    insertClient: async (row) => void (await c.run(CL.insert, rowParams(CL, row))),
    findClient: async (id) => first(await c.read<ClientRow>(`SELECT ${CL.select()} FROM clients WHERE id = @id`, { id })),
    findClientByName: async (name) => first(await c.read<ClientRow>(`SELECT ${CL.select()} FROM clients WHERE name = @name ORDER BY created_at, id LIMIT 1`, { name })),
    setPlan: async (id, plan) => void (await c.run('UPDATE clients SET plan = @plan WHERE id = @id', { id, plan })),
    insertBot: async (row) => void (await c.run(B.insert, rowParams(B, row))),
    findOwnBot: async (clientId, botId) => first(await c.read<BotRow>(`SELECT ${B.select()} FROM bots WHERE id = @botId AND client_id = @clientId`, { botId, clientId })),
    findOwnBotForLead: async (clientId, botId) => {
      const rows = await c.read<Params & { plan: Plan; endpointId: string | null; endpointEvents: string | null }>(OWN_BOT_FOR_LEAD, { botId, clientId });
      const head = rows[0];
      if (head === undefined) return undefined;
      return {
        bot: unprefix<BotRow>(B, head, 'b_'),
        plan: head.plan,
        endpoints: head.endpointId === null ? [] : rows.map((r) => ({ id: r.endpointId as string, events: r.endpointEvents as string })),
      };
    },
    listBots: (clientId, page) =>
      page.after
        ? c.read<BotRow>(`SELECT ${B.select()} FROM bots WHERE client_id = @clientId AND (created_at, id) < (@afterAt, @afterId) ORDER BY created_at DESC, id DESC LIMIT @take`, {
            clientId,
            take: page.take,
            afterAt: page.after.at,
            afterId: page.after.id,
          })
        : c.read<BotRow>(`SELECT ${B.select()} FROM bots WHERE client_id = @clientId ORDER BY created_at DESC, id DESC LIMIT @take`, { clientId, take: page.take }),
    botIdsOf: async (clientId) => (await c.read<{ id: string }>('SELECT id FROM bots WHERE client_id = @clientId ORDER BY created_at, id', { clientId })).map((r) => r.id),
    insertKey: async (row) => void (await c.run(K.insert, rowParams(K, row))),
    findKey: async (id) => {
      const row = first(await c.read<ApiKeyRow>(`SELECT ${K.select()} FROM api_keys WHERE id = @id`, { id }));
      return row && keyUse.withPending(row);
    },
    listKeys: async (clientId) =>
      (await c.read<ApiKeyRow>(`SELECT ${K.select()} FROM api_keys WHERE client_id = @clientId ORDER BY created_at DESC, id DESC`, { clientId })).map(keyUse.withPending),
    revokeKey: async (id, at) => void (await c.run('UPDATE api_keys SET revoked_at = @at WHERE id = @id', { id, at })),
    findKeyByHash: async (tokenHash) => {
      const raw = first(
        await c.read<Params>(`SELECT ${K.select('k', 'k_')}, ${CL.select('c', 'c_')} FROM api_keys k JOIN clients c ON c.id = k.client_id WHERE k.token_hash = @tokenHash`, { tokenHash }),
      );
      return raw === undefined ? undefined : { key: unprefix<ApiKeyRow>(K, raw, 'k_'), client: unprefix<ClientRow>(CL, raw, 'c_') };
    },
    noteKeyUsed: (keyId, at) => {
      keyUse.note(keyId, at);
      return Promise.resolve();
    },
  };
}

// ── idempotency ───────────────────────────────────────────────────────────────────────────────────

const I = tableSql(schema.idempotencyKeys);

export function pgIdempotency(c: Conn): IdempotencyRepo {
  const find = async (clientId: string, key: string) =>
    first(await c.read<IdempotencyRow>(`SELECT ${I.select()} FROM idempotency_keys WHERE client_id = @clientId AND key = @key`, { clientId, key }));
  return {
    find,
    claim: async (record, rules) => {
      // Bounded: each turn either claims, finds a live record, or lost a race that changed the row. In a
      // transaction (READ COMMITTED) the insert waits for a concurrent uncommitted insert of the key, and
      // the next statement sees what that transaction committed.
      for (let turn = 0; turn < 10; turn++) {
        const inserted = await c.rows(
          `INSERT INTO idempotency_keys (client_id, key, request_hash, state, response_status, response_body, created_at)
           VALUES (@clientId, @key, @requestHash, 'done', @status, @body, @at)
           ON CONFLICT (client_id, key) DO NOTHING RETURNING 1`,
          { ...record },
        );
        if (inserted.length === 1) {
          // A few expired records go with each claim (retention).
          await c.run(`DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < @before LIMIT 10)`, { before: rules.expiredBefore });
          return { claimed: true };
        }
        const found = await find(record.clientId, record.key);
        if (!found) continue; // pruned in between: try the insert again
        const live = found.createdAt >= rules.expiredBefore && !(found.state === 'running' && found.createdAt < rules.staleRunningBefore);
        if (live) return { claimed: false, existing: found };
        // Expired or abandoned: take it over only if nobody else did first (compare-and-set).
        const taken = await c.run(
          `UPDATE idempotency_keys SET request_hash = @requestHash, state = 'done', response_status = @status, response_body = @body, created_at = @at
           WHERE client_id = @clientId AND key = @key AND created_at = @was AND state = @wasState`,
          { ...record, was: found.createdAt, wasState: found.state },
        );
        if (taken === 1) return { claimed: true };
      }
      throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still in progress');
    },
  };
}

// ── events and the outbox ─────────────────────────────────────────────────────────────────────────

const E = tableSql(schema.events);
// An event's deliveries, one per endpoint, in one statement.
const DELIVERIES = `INSERT INTO webhook_deliveries (id, client_id, endpoint_id, event_id, event, status, attempts, next_attempt_at, created_at)
  SELECT d.id, @clientId, d.endpoint_id, @eventId, @event, 'pending', 0, d.due_at, @createdAt
  FROM unnest(@ids::text[], @endpointIds::text[], @dueAts::bigint[]) AS d(id, endpoint_id, due_at)`;

/** Erasure inside a stored payload: the lead's personal fields, and an appointment's notes. Key order kept. */
function erasePayload(payload: string): string {
  const body = JSON.parse(payload) as { data?: Params } & Params;
  for (const holder of [body, body.data as Params | undefined]) {
    if (!holder || typeof holder !== 'object') continue;
    const lead = holder.lead_data as Params | undefined;
    if (lead && typeof lead === 'object') {
      if ('name' in lead) lead.name = '';
      for (const k of ['phone', 'email', 'interest']) if (k in lead) lead[k] = null;
    }
    const appointment = holder.appointment as Params | undefined;
    if (appointment && typeof appointment === 'object' && 'notes' in appointment) appointment.notes = null;
  }
  return JSON.stringify(body);
}

export function pgEvents(c: Conn): EventsRepo {
  return {
    append: (event, deliveries) =>
      c.atomic(async (tx) => {
        await tx.later('events', E.insert, rowParams(E, event));
        if (deliveries.length === 0) return;
        await tx.later('webhook_deliveries', DELIVERIES, {
          clientId: event.clientId,
          eventId: event.id,
          event: event.type,
          createdAt: event.createdAt,
          ids: deliveries.map((d) => d.id),
          endpointIds: deliveries.map((d) => d.endpointId),
          dueAts: deliveries.map((d) => d.dueAt),
        });
      }),
    insertMany: (rows) => insertAll(c, E.insert, E, rows),
    list: async (clientId, f: EventFilter, page: Keyset) => {
      if (f.types.length === 0) return [];
      const where = ['client_id = @clientId', 'type = ANY(@types::text[])', 'created_at >= @createdFrom'];
      const params: Params = { clientId, types: [...f.types], createdFrom: f.createdFrom, take: page.take };
      if (page.after) (where.push('(created_at, id) < (@afterAt, @afterId)'), Object.assign(params, { afterAt: page.after.at, afterId: page.after.id }));
      return c.read<Pick<EventRow, 'id' | 'createdAt' | 'payload'>>(
        `SELECT id, created_at AS "createdAt", payload FROM events WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @take`,
        params,
      );
    },
    eraseLead: (leadId) =>
      c.atomic(async (tx) => {
        const rows = await tx.rows<{ id: string; payload: string }>('SELECT id, payload FROM events WHERE lead_id = @leadId FOR UPDATE', { leadId });
        for (const r of rows) await tx.run('UPDATE events SET payload = @payload WHERE id = @id', { id: r.id, payload: erasePayload(r.payload) });
      }),
  };
}

// ── webhook endpoints ─────────────────────────────────────────────────────────────────────────────

const W = tableSql(schema.webhookEndpoints);

export function pgEndpoints(c: Conn): EndpointsRepo {
  return {
    insert: async (row) => void (await c.run(W.insert, rowParams(W, row))),
    countOf: async (clientId) => {
      // Serialises the cap's check-then-insert per client across processes (released at COMMIT).
      if (c.inTransaction) await c.rows(`SELECT pg_advisory_xact_lock(hashtext('webhook_endpoints:' || @clientId::text))`, { clientId });
      return Number((await c.read<{ n: number }>('SELECT count(*) AS n FROM webhook_endpoints WHERE client_id = @clientId', { clientId }))[0]?.n ?? 0);
    },
    find: async (clientId, id) =>
      first(await c.rows<WebhookEndpointRow>(`SELECT ${W.select()} FROM webhook_endpoints WHERE id = @id AND client_id = @clientId${forUpdate(c)}`, { id, clientId })),
    list: (clientId, page) =>
      page.after
        ? c.read<WebhookEndpointRow>(
            `SELECT ${W.select()} FROM webhook_endpoints WHERE client_id = @clientId AND (created_at, id) < (@afterAt, @afterId) ORDER BY created_at DESC, id DESC LIMIT @take`,
            { clientId, take: page.take, afterAt: page.after.at, afterId: page.after.id },
          )
        : c.read<WebhookEndpointRow>(`SELECT ${W.select()} FROM webhook_endpoints WHERE client_id = @clientId ORDER BY created_at DESC, id DESC LIMIT @take`, { clientId, take: page.take }),
    enabledOf: (clientId) => c.read<Pick<WebhookEndpointRow, 'id' | 'events'>>('SELECT id, events FROM webhook_endpoints WHERE client_id = @clientId AND enabled', { clientId }),
    update: async (id, change) => {
      const u = updateSql(W, change, 'id = @id');
      if (u) await c.run(u.text, { ...u.params, id });
    },
    delete: async (id) => void (await c.run('DELETE FROM webhook_endpoints WHERE id = @id', { id })),
  };
}

// ── deliveries: the API's side ────────────────────────────────────────────────────────────────────

const D = tableSql(schema.webhookDeliveries);
const AT = tableSql(schema.webhookAttempts);

export function pgDeliveryReads(c: Conn): DeliveryReadsRepository {
  return {
    find: async (clientId, id) => first(await c.rows<WebhookDeliveryRow>(`SELECT ${D.select()} FROM webhook_deliveries WHERE id = @id AND client_id = @clientId${forUpdate(c)}`, { id, clientId })),
    list: (f: DeliveryFilter, page: Keyset) => {
      const params: Params = { take: page.take };
      const where: string[] = [];
      if (f.endpointId !== undefined) (where.push('endpoint_id = @endpointId'), (params.endpointId = f.endpointId));
      else (where.push('client_id = @clientId'), (params.clientId = f.clientId));
      if (f.status !== undefined) (where.push('status = @status'), (params.status = f.status));
      if (page.after) (where.push('(created_at, id) < (@afterAt, @afterId)'), Object.assign(params, { afterAt: page.after.at, afterId: page.after.id }));
      return c.read<WebhookDeliveryRow>(`SELECT ${D.select()} FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @take`, params);
    },
    attempts: (deliveryId) => c.read<WebhookAttemptRow>(`SELECT ${AT.select()} FROM webhook_attempts WHERE delivery_id = @deliveryId ORDER BY id`, { deliveryId }),
    update: async (id, change) => {
      const u = updateSql(D, change, 'id = @id');
      if (u) await c.run(u.text, { ...u.params, id });
    },
    failPending: async (endpointId, reason) =>
      void (await c.run(
        `UPDATE webhook_deliveries SET status = 'failed', last_error = @reason, next_attempt_at = NULL, claimed_by = NULL, manual_retry = false
         WHERE endpoint_id = @endpointId AND status = 'pending'`,
        { endpointId, reason },
      )),
  };
}
