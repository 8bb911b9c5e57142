import { z } from 'zod';
import { DEMO_BOT_ID } from '../lib/ids';
import { APPOINTMENT_STATUSES } from '../db/sqlite/schema/calendar';
import { INSTANT_RANGE_MESSAGE, inInstantRange, parseInstant } from '../lib/time';
import { canonicalTimeZone } from '../lib/zonedTime';
import { idOf, instant, page, pageInput, timestamp, wholeNumber } from './common';

export const MAX_APPOINTMENT_MINUTES = 24 * 60;
export const MAX_AVAILABILITY_DAYS = 31;
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
const MAX_INTERVALS_PER_DAY = 24;

export const appointmentStatus = z.enum(APPOINTMENT_STATUSES);

/** An appointment's start or end: a full ISO 8601 timestamp with a zone (a bare date is not a time). */
const appointmentTime = z
  .string()
  .max(40)
  .transform((value, ctx) => {
    const ms = value.includes('T') ? parseInstant(value) : null;
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'Expected an ISO 8601 timestamp with a zone, e.g. 2026-05-17T14:30:00Z' });
      return z.NEVER;
    }
    if (!inInstantRange(ms)) {
      ctx.addIssue({ code: 'custom', message: INSTANT_RANGE_MESSAGE });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ format: 'date-time', example: '2026-05-18T09:00:00Z' });

const notes = z.string().max(2000, 'Notes are at most 2000 characters').meta({ description: 'Free text, at most 2000 characters; erased with the lead' });

export const appointment = z
  .object({
    id: idOf('appointment'),
    bot_id: idOf('bot'),
    lead_id: idOf('lead'),
    status: appointmentStatus,
    starts_at: timestamp,
    ends_at: timestamp,
    notes: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({
    id: 'Appointment',
    example: {
      id: 'appt_01JV8Z9K2M5N7P3R',
      bot_id: DEMO_BOT_ID,
      lead_id: 'lead_01JV8Z6Q3R9T2W4X',
      status: 'scheduled',
      starts_at: '2026-05-18T09:00:00.000Z',
      ends_at: '2026-05-18T09:30:00.000Z',
      notes: 'Prefers a call in English',
      created_at: '2026-05-17T14:35:40.000Z',
      updated_at: '2026-05-17T14:35:40.000Z',
    },
  });
export type Appointment = z.infer<typeof appointment>;

export const appointmentPage = page(appointment).meta({ id: 'AppointmentList' });

export const appointmentListInput = z.strictObject({
  from: instant.meta({ description: 'Appointments starting at or after this instant', example: '2026-05-01' }).optional(),
  to: instant.meta({ description: 'Appointments starting before this instant', example: '2026-06-01' }).optional(),
  bot_id: idOf('bot').optional(),
  status: appointmentStatus.meta({ description: 'Only appointments with this status' }).optional(),
  ...pageInput,
});
export type AppointmentListInput = z.infer<typeof appointmentListInput>;

export const appointmentCreateInput = z.strictObject({
  lead_id: idOf('lead'),
  starts_at: appointmentTime.meta({ description: 'In the future', format: 'date-time', example: '2026-05-18T09:00:00Z' }),
  ends_at: appointmentTime.meta({ description: 'After `starts_at`, at most 24 hours later', format: 'date-time', example: '2026-05-18T09:30:00Z' }),
  notes: notes.nullable().optional(),
});
export type AppointmentCreateInput = z.infer<typeof appointmentCreateInput>;

export const appointmentUpdateFields = z.strictObject({
  starts_at: appointmentTime.meta({ description: 'Reschedule; sent alone, the appointment keeps its length', format: 'date-time', example: '2026-05-18T10:00:00Z' }).optional(),
  ends_at: appointmentTime.meta({ description: 'After `starts_at`, at most 24 hours later', format: 'date-time', example: '2026-05-18T10:30:00Z' }).optional(),
  status: appointmentStatus
    .meta({ description: '`cancelled` or `completed` from `scheduled`; cancelled and completed appointments are final' })
    .optional(),
  notes: notes.nullable().optional(),
});
export type AppointmentUpdateFields = z.infer<typeof appointmentUpdateFields>;

/** The bot runtime's booking (internal): a slot that availability offered, for one of the bot's leads. */
export const bookSlotInput = z.strictObject({
  bot_id: idOf('bot'),
  lead_id: idOf('lead'),
  starts_at: appointmentTime,
  ends_at: appointmentTime,
  notes: notes.nullable().optional(),
});
export type BookSlotInput = z.infer<typeof bookSlotInput>;

// --- settings ---

const TIME_OF_DAY = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const timeOfDay = z
  .string()
  .max(5)
  .regex(TIME_OF_DAY, 'Expected HH:MM, 00:00–24:00')
  .meta({ description: 'HH:MM local time; 24:00 ends a day', example: '09:00' });

/** "HH:MM" → minutes after midnight. */
export const minuteOfDay = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const dayIntervals = z
  .array(z.tuple([timeOfDay, timeOfDay]))
  .max(MAX_INTERVALS_PER_DAY, `At most ${MAX_INTERVALS_PER_DAY} intervals a day`)
  .superRefine((intervals, ctx) => {
    intervals.forEach(([start, end], i) => {
      if (minuteOfDay(end) <= minuteOfDay(start)) ctx.addIssue({ code: 'custom', path: [i], message: `Ends (${end}) at or before it starts (${start})` });
    });
    const sorted = intervals.map((iv, i) => ({ iv, i })).sort((a, b) => minuteOfDay(a.iv[0]) - minuteOfDay(b.iv[0]));
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1];
      const cur = sorted[k];
      // Touching intervals (12:00 end, 12:00 start) are fine; sharing a minute is not.
      if (prev && cur && minuteOfDay(cur.iv[0]) < minuteOfDay(prev.iv[1])) {
        ctx.addIssue({ code: 'custom', path: [cur.i], message: `Overlaps ${prev.iv[0]}–${prev.iv[1]}` });
      }
    }
  })
  .meta({ id: 'WorkingDay', description: 'One day’s working intervals, `["HH:MM", "HH:MM"]` each, start before end; they may touch but not overlap' });

export const workingHoursInput = z
  .strictObject({
    mon: dayIntervals.optional(),
    tue: dayIntervals.optional(),
    wed: dayIntervals.optional(),
    thu: dayIntervals.optional(),
    fri: dayIntervals.optional(),
    sat: dayIntervals.optional(),
    sun: dayIntervals.optional(),
  })
  .meta({
    description: '`mon`…`sun` → list of `["HH:MM", "HH:MM"]` intervals in `timezone`; a missing day (or `[]`) is closed. Intervals may touch but not overlap.',
    example: { mon: [['09:00', '12:00'], ['13:00', '17:00']], tue: [['09:00', '17:00']] },
  });

const storedDay = z.array(z.tuple([z.string(), z.string()]));
const workingHours = z
  .object({ mon: storedDay, tue: storedDay, wed: storedDay, thu: storedDay, fri: storedDay, sat: storedDay, sun: storedDay })
  .meta({
    description: 'Every day present, intervals sorted by start; closed days are `[]`',
    example: { mon: [['09:00', '12:00'], ['13:00', '17:00']], tue: [['09:00', '17:00']], wed: [['09:00', '17:00']], thu: [['09:00', '17:00']], fri: [['09:00', '15:00']], sat: [], sun: [] },
  });
export type WorkingHours = z.infer<typeof workingHours>;

const timezone = z
  .string()
  .max(64)
  .transform((value, ctx) => {
    const zone = canonicalTimeZone(value);
    if (!zone) {
      ctx.addIssue({ code: 'custom', message: 'Unknown time zone: expected an IANA name such as Europe/Berlin' });
      return z.NEVER;
    }
    return zone;
  })
  .meta({ description: 'IANA time zone name', example: 'Europe/Berlin' });

const slotMinutes = wholeNumber(5, 1440).meta({
  description: 'Candidate slots start at each working interval’s start and every `slot_minutes` after it (5–1440)',
  override: { type: 'integer', minimum: 5, maximum: 1440 },
});

export const settingsGetInput = z.strictObject({ bot_id: idOf('bot') });

export const settingsPutInput = z.strictObject({
  bot_id: idOf('bot'),
  timezone,
  working_hours: workingHoursInput,
  slot_minutes: slotMinutes,
});
export type SettingsPutInput = z.infer<typeof settingsPutInput>;

export const calendarSettings = z
  .object({
    bot_id: idOf('bot'),
    timezone: z.string().meta({ example: 'Europe/Berlin' }),
    working_hours: workingHours,
    slot_minutes: z.number().int().meta({ example: 30 }),
    updated_at: timestamp.nullable().meta({ description: 'null: never saved, these are the defaults' }),
  })
  .meta({ id: 'CalendarSettings' });
export type CalendarSettings = z.infer<typeof calendarSettings>;

// --- availability ---

export const availabilityInput = z.strictObject({
  bot_id: idOf('bot'),
  from: instant.meta({ description: 'Slots starting at or after this instant' }),
  to: instant.meta({ description: `Slots starting before this instant; at most ${MAX_AVAILABILITY_DAYS} days after \`from\`` }),
  duration_minutes: wholeNumber(5, MAX_APPOINTMENT_MINUTES)
    .meta({ description: 'Length of each slot, 5–1440 (default: the bot’s `slot_minutes`)', override: { type: 'integer', minimum: 5, maximum: MAX_APPOINTMENT_MINUTES } })
    .optional(),
});
export type AvailabilityInput = z.infer<typeof availabilityInput>;

export const slot = z.object({ starts_at: timestamp, ends_at: timestamp }).meta({ id: 'Slot' });
export const availability = z.object({ slots: z.array(slot) }).meta({ id: 'Availability' });
export type Availability = z.infer<typeof availability>;
