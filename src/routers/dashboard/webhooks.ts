// Webhook endpoints and deliveries for the dashboard: the same services as /v1/webhooks, scoped to the
// signed-in person's client.
import { z } from 'zod';
import {
  deliveryIdInput,
  deliveryListInput,
  endpointCreateInput,
  endpointIdInput,
  endpointListInput,
  endpointUpdateFields,
  rotatedSecret,
  testEventSent,
  webhookDelivery,
  webhookDeliveryDetail,
  webhookDeliveryPage,
  webhookEndpoint,
  webhookEndpointCreated,
  webhookEndpointPage,
} from '../../schemas/webhooks';
import {
  createEndpoint,
  deleteEndpoint,
  getDelivery,
  listDeliveries,
  listEndpoints,
  retryDelivery,
  rotateEndpointSecret,
  sendTestEvent,
  updateEndpoint,
} from '../../services/webhooks';
import { webhooksProcedure } from './_procedure';

const policy = (ctx: { deps: { config: { webhookAllowPrivate?: boolean | undefined } } }) => ({ allowPrivate: ctx.deps.config.webhookAllowPrivate ?? false });

export const listEndpointsProcedure = webhooksProcedure.input(endpointListInput).output(webhookEndpointPage).query(({ ctx, input }) => listEndpoints(ctx.deps, ctx.client.id, input));
export const createEndpointProcedure = webhooksProcedure.input(endpointCreateInput).output(webhookEndpointCreated).mutation(({ ctx, input }) => createEndpoint(ctx.deps, ctx.client.id, input, policy(ctx)));
export const updateEndpointProcedure = webhooksProcedure
  .input(endpointIdInput.extend(endpointUpdateFields.shape))
  .output(webhookEndpoint)
  .mutation(({ ctx, input: { endpoint_id, ...patch } }) => updateEndpoint(ctx.deps, ctx.client.id, endpoint_id, patch, policy(ctx)));
export const deleteEndpointProcedure = webhooksProcedure.input(endpointIdInput).output(z.void()).mutation(({ ctx, input }) => deleteEndpoint(ctx.deps, ctx.client.id, input.endpoint_id));
export const rotateSecretProcedure = webhooksProcedure.input(endpointIdInput).output(rotatedSecret).mutation(({ ctx, input }) => rotateEndpointSecret(ctx.deps, ctx.client.id, input.endpoint_id));
export const testEndpointProcedure = webhooksProcedure.input(endpointIdInput).output(testEventSent).mutation(({ ctx, input }) => sendTestEvent(ctx.deps, ctx.client.id, input.endpoint_id));

export const listDeliveriesProcedure = webhooksProcedure.input(deliveryListInput).output(webhookDeliveryPage).query(({ ctx, input }) => listDeliveries(ctx.deps, ctx.client.id, input));
export const getDeliveryProcedure = webhooksProcedure.input(deliveryIdInput).output(webhookDeliveryDetail).query(({ ctx, input }) => getDelivery(ctx.deps, ctx.client.id, input.delivery_id));
export const retryDeliveryProcedure = webhooksProcedure.input(deliveryIdInput).output(webhookDelivery).mutation(({ ctx, input }) => retryDelivery(ctx.deps, ctx.client.id, input.delivery_id));
