export * from './calendar';
export * from './clients';
export * from './leads';
export * from './stats';
export * from './system';
export * from './webhooks';
export * from './users';
