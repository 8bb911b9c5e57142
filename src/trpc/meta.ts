import type { OpenApiMeta } from 'trpc-to-openapi';

/** What a procedure says about itself beyond trpc-to-openapi's own meta. */
export interface AppMeta {
  /** The HTTP status of success on REST (default 200). */
  successStatus?: 200 | 201 | 202 | 204;
  /** Error statuses this operation can answer besides the ones every authenticated call can. */
  errors?: number[];
  /** Accepts an Idempotency-Key header (POST creates). */
  idempotent?: boolean;
  /** Plan feature this operation needs beyond the REST API itself. */
  feature?: 'webhooks';
}

export type Meta = OpenApiMeta<AppMeta>;
