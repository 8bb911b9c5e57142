import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../src/routers/_app';

type Out = inferRouterOutputs<AppRouter>['dashboard'];
type In = inferRouterInputs<AppRouter>['dashboard'];
export type Me = Out['auth']['me'];
export type ApiKey = Out['keys']['list']['data'][number];
export type Endpoint = Out['endpoints']['list']['data'][number];
export type Delivery = Out['deliveries']['list']['data'][number];
export type DeliveryFilter = In['deliveries']['list'];
