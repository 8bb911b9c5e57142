// What each plan includes: the one place plan rules live (API.md §1). Plans are read on every request,
// so a change takes effect on the next one.
import type { Plan } from '../db/ports';

interface PlanRules {
  /** API keys may call /v1 (the service token acts for any plan's client). */
  restApi: boolean;
  /** Webhook endpoints and deliveries; events raised on other plans are stored, never delivered. */
  webhooks: boolean;
}

const RULES: Record<Plan, PlanRules> = {
  starter: { restApi: false, webhooks: false },
  business: { restApi: true, webhooks: false },
  enterprise: { restApi: true, webhooks: true },
};

export const hasRestApi = (plan: Plan): boolean => RULES[plan].restApi;
export const hasWebhooks = (plan: string): boolean => (RULES as Record<string, PlanRules | undefined>)[plan]?.webhooks === true;
