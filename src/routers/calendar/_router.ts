import { router } from '../../trpc/init';
import { bookSlotProcedure } from './bookSlot';
import { createAppointmentProcedure } from './createAppointment';
import { getAppointmentProcedure } from './getAppointment';
import { getAvailabilityProcedure } from './getAvailability';
import { getSettingsProcedure } from './getSettings';
import { listAppointmentsProcedure } from './listAppointments';
import { putSettingsProcedure } from './putSettings';
import { updateAppointmentProcedure } from './updateAppointment';

export const calendarRouter = router({
  appointments: router({
    list: listAppointmentsProcedure,
    get: getAppointmentProcedure,
    create: createAppointmentProcedure,
    update: updateAppointmentProcedure,
  }),
  availability: getAvailabilityProcedure,
  settings: router({ get: getSettingsProcedure, put: putSettingsProcedure }),
  // Internal: the bot runtime's booking (service token naming the client).
  book: bookSlotProcedure,
});
