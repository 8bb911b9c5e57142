// The README's table of /trpc procedures is generated from the router, and stays so.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withTable } from '../scripts/trpc-procedures';
import { appRouter } from '../src/routers/_app';
import { trpcProcedures, trpcProceduresMarkdown } from '../src/routers/_catalog';
import { typeOf } from '../src/trpc/catalog';

describe('the /trpc procedure list', () => {
  it('lists every procedure of the router once, each with who may call it', () => {
    const entries = trpcProcedures();
    expect(entries.map((e) => e.path).sort()).toEqual(Object.keys(appRouter._def.procedures).sort());
    expect(entries.filter((e) => e.access === 'anyone').map((e) => e.path)).toEqual([]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('admin.keys.create')?.access).toBe('service token');
    expect(byPath.get('calendar.book')?.access).toBe('service token + client');
    expect(byPath.get('leads.get')).toMatchObject({ type: 'query', access: 'API key, or service token + client', rest: 'GET /v1/leads/{lead_id}' });
    expect(byPath.get('webhooks.endpoints.list')?.access).toContain('enterprise');
  });

  it('writes inputs as TypeScript-like types from their schemas', () => {
    const leadsCreate = trpcProcedures().find((e) => e.path === 'leads.create');
    expect(typeOf(leadsCreate?.input ?? undefined)).toMatch(/^\{ bot_id: string; name: string; phone\?: string \| null;/);
    expect(typeOf({ type: 'array', items: { enum: ['a', 'b'] } })).toBe('("a" | "b")[]');
  });

  it('is the copy in README.md (regenerate with npm run docs:trpc)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(withTable(readme, trpcProceduresMarkdown())).toBe(readme);
  });
});
