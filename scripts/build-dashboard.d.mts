/** Bundles web/dashboard into `outdir` (default dist/dashboard); returns the hashed asset names. */
export function buildDashboard(opts?: { outdir?: string; root?: string }): Promise<{ js: string; css: string }>;
