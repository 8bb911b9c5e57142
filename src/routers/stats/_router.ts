import { router } from '../../trpc/init';
import { getStatsProcedure } from './get';

export const statsRouter = router({ get: getStatsProcedure });
