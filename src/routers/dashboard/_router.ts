// /trpc dashboard.*: what the Integrations page calls with its session cookie (API.md §7).
import { router } from '../../trpc/init';
import { meProcedure, setPasswordProcedure, signInProcedure, signOutProcedure } from './auth';
import { createKeyProcedure, listKeysProcedure, revokeKeyProcedure } from './keys';
import {
  createEndpointProcedure,
  deleteEndpointProcedure,
  getDeliveryProcedure,
  listDeliveriesProcedure,
  listEndpointsProcedure,
  retryDeliveryProcedure,
  rotateSecretProcedure,
  testEndpointProcedure,
  updateEndpointProcedure,
} from './webhooks';

export const dashboardRouter = router({
  auth: router({ signIn: signInProcedure, signOut: signOutProcedure, setPassword: setPasswordProcedure, me: meProcedure }),
  keys: router({ list: listKeysProcedure, create: createKeyProcedure, revoke: revokeKeyProcedure }),
  endpoints: router({
    list: listEndpointsProcedure,
    create: createEndpointProcedure,
    update: updateEndpointProcedure,
    delete: deleteEndpointProcedure,
    rotateSecret: rotateSecretProcedure,
    test: testEndpointProcedure,
  }),
  deliveries: router({ list: listDeliveriesProcedure, get: getDeliveryProcedure, retry: retryDeliveryProcedure }),
});
