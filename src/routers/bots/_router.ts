import { router } from '../../trpc/init';
import { listBotsProcedure } from './list';

export const botsRouter = router({ list: listBotsProcedure });
