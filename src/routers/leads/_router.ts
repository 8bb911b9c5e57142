import { router } from '../../trpc/init';
import { createLeadProcedure } from './create';
import { deleteLeadProcedure } from './delete';
import { getLeadProcedure } from './get';
import { listLeadsProcedure } from './list';
import { updateLeadProcedure } from './update';

export const leadsRouter = router({
  list: listLeadsProcedure,
  get: getLeadProcedure,
  create: createLeadProcedure,
  update: updateLeadProcedure,
  delete: deleteLeadProcedure,
});
