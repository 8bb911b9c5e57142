// The calendar port on SQLite. Bookings cannot overlap because every booking write runs in a
// BEGIN IMMEDIATE transaction (store.ts): the overlap check and the write hold the file's write lock
// together, so no other connection of any process books the slot in between.
import type { AppointmentChange, AppointmentFilter, CalendarRepo, Interval } from '../ports/calendar';
import type { Keyset } from '../ports/keyset';
import type { AppointmentRow, CalendarSettingsRow } from '../ports/rows';
import { MAX_APPOINTMENT_MINUTES } from '../../schemas/calendar';
import type { Conn } from './conn';
import { appointments, calendarSettings } from './schema';
import { tableSql, updateSql } from './tables';

const a = tableSql(appointments);
const cs = tableSql(calendarSettings);
const MAX_APPOINTMENT_MS = MAX_APPOINTMENT_MINUTES * 60_000;

const FIND = `SELECT ${a.select()} FROM appointments WHERE id = ? AND client_id = ? AND deleted_at IS NULL`;
// Appointments last at most 24 h, so only those starting in (from − 24 h, to) can overlap [from, to): a
// bounded range seek on appointments_bot_status_starts_idx, whatever the calendar's size.
const OVERLAP = `bot_id = @botId AND status = 'scheduled' AND starts_at > @earliest AND starts_at < @to AND ends_at > @from`;
const HAS_OVERLAP = `SELECT 1 FROM appointments WHERE ${OVERLAP} LIMIT 1`;
const HAS_OVERLAP_EXCEPT = `SELECT 1 FROM appointments WHERE ${OVERLAP} AND id <> @exceptId LIMIT 1`;
const BETWEEN = `SELECT starts_at AS startsAt, ends_at AS endsAt FROM appointments WHERE ${OVERLAP} ORDER BY starts_at`;
const OF_CLIENT = `SELECT bot_id AS botId, starts_at AS startsAt, ends_at AS endsAt FROM appointments WHERE client_id = ? AND status = 'scheduled'`;
const OF_LEAD = `SELECT ${a.select()} FROM appointments WHERE lead_id = ? AND client_id = ? AND status = 'scheduled'`;
const LEAD_HAS = `SELECT 1 FROM appointments WHERE lead_id = ? AND status = 'scheduled' LIMIT 1`;
const ERASE = `UPDATE appointments SET notes = NULL, updated_at = @at, deleted_at = @at WHERE lead_id = @leadId AND client_id = @clientId AND deleted_at IS NULL`;
const SETTINGS = `SELECT ${cs.select()} FROM calendar_settings WHERE bot_id = ?`;
const PUT_SETTINGS = `${cs.insert} ON CONFLICT (bot_id) DO UPDATE SET timezone = excluded.timezone,
  working_hours = excluded.working_hours, slot_minutes = excluded.slot_minutes, updated_at = excluded.updated_at`;

/**
 * Each filter combination has an index ending in (starts_at, id) — see schema/calendar.ts. The lower
 * bound on starts_at includes the cursor's, so the seek starts at the cursor (not at `from`) and a page
 * is a seek plus `take` rows at any depth. With bot_id the filter is the bot alone, which keeps the
 * planner on the bot's indexes.
 */
function listQuery(f: AppointmentFilter, page: Keyset): { text: string; params: Record<string, unknown> } {
  const where = [f.botId !== undefined ? 'bot_id = @botId' : 'client_id = @clientId', 'deleted_at IS NULL'];
  const params: Record<string, unknown> = { take: page.take };
  if (f.botId !== undefined) params.botId = f.botId;
  else params.clientId = f.clientId;
  if (f.status !== undefined) {
    where.push('status = @status');
    params.status = f.status;
  }
  const lower = Math.max(f.startsFrom ?? Number.NEGATIVE_INFINITY, page.after?.at ?? Number.NEGATIVE_INFINITY);
  if (Number.isFinite(lower)) {
    where.push('starts_at >= @lower');
    params.lower = lower;
  }
  if (f.startsBefore !== undefined) {
    where.push('starts_at < @before');
    params.before = f.startsBefore;
  }
  if (page.after) {
    where.push('(starts_at, id) > (@afterAt, @afterId)');
    params.afterAt = page.after.at;
    params.afterId = page.after.id;
  }
  return { text: `SELECT ${a.select()} FROM appointments WHERE ${where.join(' AND ')} ORDER BY starts_at, id LIMIT @take`, params };
}

const window = (botId: string, from: number, to: number) => ({ botId, from, to, earliest: from - MAX_APPOINTMENT_MS });

export function sqliteCalendar(c: Conn): CalendarRepo {
  const { s } = c;
  return {
    findAppointment: (clientId, id) => c.read(() => s.get(FIND).get(id, clientId) as AppointmentRow | undefined),
    listAppointments: (filter, page) =>
      c.read(() => {
        const { text, params } = listQuery(filter, page);
        return s.get(text).all(params) as AppointmentRow[];
      }),
    hasOverlap: (botId, startsAt, endsAt, exceptId) =>
      c.read(() =>
        exceptId === undefined
          ? s.get(HAS_OVERLAP).get(window(botId, startsAt, endsAt)) !== undefined
          : s.get(HAS_OVERLAP_EXCEPT).get({ ...window(botId, startsAt, endsAt), exceptId }) !== undefined,
      ),
    scheduledBetween: (botId, from, to) => c.read(() => s.get(BETWEEN).all(window(botId, from, to)) as Interval[]),
    scheduledOfClient: (clientId) => c.read(() => s.get(OF_CLIENT).all(clientId) as (Interval & { botId: string })[]),
    scheduledOfLead: (clientId, leadId) => c.read(() => s.get(OF_LEAD).all(leadId, clientId) as AppointmentRow[]),
    leadHasScheduled: (leadId) => c.read(() => s.get(LEAD_HAS).get(leadId) !== undefined),
    insertAppointment: (row) => c.write(() => void s.get(a.insert).run(row)),
    insertAppointments: (rows) =>
      c.write(() => {
        const insert = s.get(a.insert);
        for (const row of rows) insert.run(row);
      }),
    updateAppointment: (id, change: AppointmentChange) =>
      c.write(() => {
        const { text, params } = updateSql(a, change, 'id = @id');
        if (Object.keys(params).length > 0) s.get(text).run({ ...params, id });
      }),
    eraseAppointmentsOfLead: (clientId, leadId, at) => c.write(() => void s.get(ERASE).run({ clientId, leadId, at })),
    findSettings: (botId) => c.read(() => s.get(SETTINGS).get(botId) as CalendarSettingsRow | undefined),
    putSettings: (row) => c.write(() => void s.get(PUT_SETTINGS).run(row)),
  };
}
