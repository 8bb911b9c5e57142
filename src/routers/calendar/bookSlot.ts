// Bot runtime (internal, /trpc only): the conversation found a slot in availability and books it for
// its lead. Same booking code as POST /v1/calendar/appointments, plus "only an offered slot".
import { appointment, bookSlotInput } from '../../schemas/calendar';
import { bookOfferedSlot } from '../../services/calendar';
import { idempotent } from '../../trpc/idempotency';
import { serviceProcedure } from '../../trpc/procedures';

export const bookSlotProcedure = serviceProcedure
  .input(bookSlotInput)
  .output(appointment)
  .mutation(({ ctx, input }) => idempotent(ctx, 'calendar.book', input, 200, (inTransaction) => bookOfferedSlot(ctx.deps, ctx.client.id, input, inTransaction)));
