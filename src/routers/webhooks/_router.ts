import { router } from '../../trpc/init';
import { createEndpointProcedure } from './createEndpoint';
import { deleteEndpointProcedure } from './deleteEndpoint';
import { getDeliveryProcedure } from './getDelivery';
import { getEndpointProcedure } from './getEndpoint';
import { listDeliveriesProcedure } from './listDeliveries';
import { listEndpointsProcedure } from './listEndpoints';
import { retryDeliveryProcedure } from './retryDelivery';
import { rotateSecretProcedure } from './rotateSecret';
import { testEndpointProcedure } from './testEndpoint';
import { updateEndpointProcedure } from './updateEndpoint';

export const webhooksRouter = router({
  endpoints: router({
    list: listEndpointsProcedure,
    create: createEndpointProcedure,
    get: getEndpointProcedure,
    update: updateEndpointProcedure,
    delete: deleteEndpointProcedure,
    rotateSecret: rotateSecretProcedure,
    test: testEndpointProcedure,
  }),
  deliveries: router({
    list: listDeliveriesProcedure,
    get: getDeliveryProcedure,
    retry: retryDeliveryProcedure,
  }),
});
