// The one router: /v1 (REST via the OpenAPI bridge), /trpc and the CLI all serve this.
import { router } from '../trpc/init';
import { adminRouter } from './admin/_router';
import { botsRouter } from './bots/_router';
import { calendarRouter } from './calendar/_router';
import { dashboardRouter } from './dashboard/_router';
import { eventsRouter } from './events/_router';
import { leadsRouter } from './leads/_router';
import { statsRouter } from './stats/_router';
import { webhooksRouter } from './webhooks/_router';

export const appRouter = router({
  stats: statsRouter,
  bots: botsRouter,
  leads: leadsRouter,
  calendar: calendarRouter,
  webhooks: webhooksRouter,
  events: eventsRouter,
  admin: adminRouter,
  dashboard: dashboardRouter,
});

export type AppRouter = typeof appRouter;
