import { router } from '../../trpc/init';
import { listEventsProcedure } from './list';

export const eventsRouter = router({
  list: listEventsProcedure,
});
