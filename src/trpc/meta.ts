import type { OpenApiMeta } from 'trpc-to-openapi';

/** An error status an operation can answer (the contract's table, API.md §2). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500;

/** What a procedure says about itself beyond trpc-to-openapi's own meta. */
export interface AppMeta {
  /** The HTTP status of success on REST (default 200). */
  successStatus?: 200 | 201 | 202 | 204;
  /**
   * Every error status this operation can answer on REST, declared here so one file shows an
   * endpoint's behaviour; the published document lists exactly these (required with `openapi`).
   */
  errors?: ErrorStatus[];
  /** Accepts an Idempotency-Key header (POST creates). */
  idempotent?: boolean;
  /** Plan feature this operation needs beyond the REST API itself. */
  feature?: 'webhooks';
  /**
   * Documentation examples where the ones composed from the schemas' field examples would not say
   * enough; each is checked against the operation's own input and output schemas by the tests.
   */
  examples?: { request?: Record<string, unknown>; response?: unknown };
}

export type Meta = OpenApiMeta<AppMeta>;
