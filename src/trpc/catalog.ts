// The /trpc procedures as data and as a Markdown table, generated from the router itself (README's
// "Procedures" section via `npm run docs:trpc`; the docs page may include the same): path, kind, who
// may call, the REST route when there is one, and the input as a TypeScript-like type from its zod schema.
import type { AnyTRPCRouter } from '@trpc/server';
import { z } from 'zod';

export interface ProcedureEntry {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  /** Who may call it: the `who` of the deepest base procedure it is built on. */
  access: string;
  /** `GET /v1/leads/{lead_id}` when the procedure is also served over REST. */
  rest: string | undefined;
  summary: string | undefined;
  /** The input's JSON Schema (zod's, input side), or null when it takes none. */
  input: Record<string, unknown> | null;
}

/** A base procedure (or builder) and who it admits; the deepest one a procedure builds on names its access. */
export interface AccessBase {
  base: unknown;
  who: string;
}

interface ProcedureDef {
  type: ProcedureEntry['type'];
  middlewares: unknown[];
  inputs: unknown[];
  meta?: { openapi?: { method?: string; path?: string; summary?: string }; feature?: string } | undefined;
}

const defOf = (x: unknown): ProcedureDef => (x as { _def: ProcedureDef })._def;

/** Every procedure of `router`, sorted by path. */
export function listProcedures(router: AnyTRPCRouter, bases: AccessBase[]): ProcedureEntry[] {
  // Deepest first: a procedure's middlewares start with those of every base it is built on.
  const ordered = [...bases].sort((a, b) => defOf(b.base).middlewares.length - defOf(a.base).middlewares.length);
  const entries = Object.entries(router._def.procedures as Record<string, unknown>).map(([path, procedure]): ProcedureEntry => {
    const def = defOf(procedure);
    const who = ordered.find(({ base }) => defOf(base).middlewares.every((m, i) => def.middlewares[i] === m))?.who ?? 'anyone';
    const access = def.meta?.feature === 'webhooks' ? `${who} (enterprise plan)` : who;
    const schema = def.inputs[0];
    const openapi = def.meta?.openapi;
    return {
      path,
      type: def.type,
      access,
      rest: openapi?.method && openapi.path ? `${openapi.method} ${openapi.path}` : undefined,
      summary: openapi?.summary,
      input: schema instanceof z.ZodType ? (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>) : null,
    };
  });
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

type Schema = Record<string, unknown>;

/** A JSON Schema as a one-line TypeScript-like type: `{ bot_id: string; phone?: string | null }`. */
export function typeOf(schema: Schema | undefined, root: Schema | undefined = schema): string {
  if (!schema) return 'unknown';
  const recurse = (s: Schema | undefined) => typeOf(s, root);
  // zod writes a schema used twice once, under $defs, and refers to it.
  if (typeof schema.$ref === 'string') {
    const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
    return recurse(name ? ((root?.$defs ?? {}) as Record<string, Schema>)[name] : undefined);
  }
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in schema) return JSON.stringify(schema.const);
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(alternatives)) return [...new Set(alternatives.map(recurse))].join(' | ');
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const fields = Object.entries(properties).map(([name, value]) => `${name}${required.has(name) ? '' : '?'}: ${recurse(value)}`);
      const extra = schema.additionalProperties;
      if (extra && typeof extra === 'object') fields.push(`[key: string]: ${recurse(extra as Schema)}`);
      return fields.length ? `{ ${fields.join('; ')} }` : '{}';
    }
    case 'array':
      if (Array.isArray(schema.prefixItems)) return `[${(schema.prefixItems as Schema[]).map(recurse).join(', ')}]`;
      return `${wrap(recurse(schema.items as Schema | undefined))}[]`;
    case 'integer':
      return 'number';
    case 'string':
      return schema.format === 'date-time' ? 'string (ISO 8601)' : 'string';
    case 'number':
    case 'boolean':
    case 'null':
      return schema.type;
    default:
      return 'unknown';
  }
}

const wrap = (t: string) => (t.includes(' | ') ? `(${t})` : t);

/** The procedures as a Markdown table (pipes in types escaped). */
export function proceduresMarkdown(entries: ProcedureEntry[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| procedure | kind | who may call | input | REST |', '| --- | --- | --- | --- | --- |'];
  for (const e of entries) {
    const input = e.input ? `\`${cell(typeOf(e.input))}\`` : '—';
    lines.push(`| \`${e.path}\` | ${e.type} | ${e.access} | ${input} | ${e.rest ? `\`${e.rest}\`` : '—'} |`);
  }
  return `${lines.join('\n')}\n`;
}
