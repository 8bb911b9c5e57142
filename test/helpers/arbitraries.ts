// fast-check arbitraries for the fuzz suite: values derived from the published OpenAPI schemas (valid
// ones, and values at and just past each bound), and hostile values and raw requests that no schema
// describes (huge numbers, deep JSON, unicode, NUL bytes, prototype keys, SQL, 10k-element arrays,
// huge strings, wrong content types, repeated query parameters).
import fc from 'fast-check';

export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema | false;
  prefixItems?: JsonSchema[];
  minItems?: number;
  maxItems?: number;
}

export interface DocParameter {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  schema: JsonSchema;
}

export interface DocOperation {
  parameters?: DocParameter[];
  requestBody?: { content: { 'application/json': { schema: JsonSchema } } };
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, DocOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export function resolver(doc: OpenApiDoc) {
  const resolve = (s: JsonSchema): JsonSchema => {
    if (!s.$ref) return s;
    const target = doc.components?.schemas?.[s.$ref.replace('#/components/schemas/', '')];
    if (!target) throw new Error(`unresolved ${s.$ref}`);
    return resolve(target);
  };
  return resolve;
}

// ── hostile values ───────────────────────────────────────────────────────────────────────────────

export const SQL_FRAGMENTS = [
  "' OR '1'='1",
  "'; DROP TABLE leads; --",
  '" OR ""="',
  '1; SELECT * FROM api_keys',
  "%' UNION SELECT token_hash FROM api_keys --",
  "lead_' OR 1=1 --",
  'x\') OR 1=1 /*',
  "'||(SELECT sqlite_version())||'",
];

export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', '__defineGetter__', 'hasOwnProperty', 'toString', 'valueOf'];

/** Values that break naive code: not any schema's idea of a value. */
const oddStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0000'.repeat(64),
  '\uFEFFbom',
  '\u202Eevil\u202C',
  '\uD800',
  '\uDFFF\uD800',
  'Ω≈ç√∫˜µ≤≥÷',
  '👩‍👩‍👧‍👦🏳️‍🌈',
  'ｓｑｌ',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '0x10',
  'true',
  '[]',
  '{}',
  '../../../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '%00',
  '%',
  '%zz',
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  'javascript:alert(1)',
  '\r\nX-Injected: 1',
  '%0d%0aSet-Cookie:x=1',
  '2026-02-30',
  '2026-13-01T25:61:61Z',
  '+99999-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '0000-01-01',
  '1970-01-01T00:00:00Z',
  'lead_',
  'bot_' + 'x'.repeat(60),
  ...SQL_FRAGMENTS,
);

const hugeNumbers = fc.constantFrom(
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER - 2,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  -0,
  2 ** 31,
  2 ** 32 + 1,
  -(2 ** 63),
  1e21,
  0.1 + 0.2,
  1.5,
);

/** Strings up to `max` characters of any Unicode (NUL and control characters included). */
export const unicodeString = (max = 64) =>
  fc.oneof(fc.string({ unit: 'binary', maxLength: max }), fc.string({ unit: 'grapheme', maxLength: max }), fc.string({ unit: 'binary-ascii', maxLength: max }));

/** Long strings, up to a size that keeps a body under 64 KiB (or just over it, sometimes). */
const hugeString = fc
  .tuple(fc.constantFrom(1_000, 16_000, 40_000, 60_000, 66_000), fc.constantFrom('a', 'é', '\u0000', '😀', "'"))
  .map(([n, ch]) => ch.repeat(Math.floor(n / Buffer.byteLength(ch))));

/** Nested arrays or objects `depth` levels deep (shown by fast-check as `deep(n, kind)`, not recursively). */
export function deep(depth: number, kind: 'array' | 'object'): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  Object.defineProperty(v, fc.toStringMethod, { value: () => `deep(${depth}, ${kind})`, enumerable: false });
  return v;
}

/** encodeURIComponent that also takes lone surrogates, sending their (invalid) UTF-8-style bytes. */
export function encodeAny(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (pair) {
        out += encodeURIComponent(s.slice(i, i + 2));
        i++;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        out += `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
      } else {
        out += encodeURIComponent(s.charAt(i));
      }
    }
    return out;
  }
}

// Values are JSON-encoded by the client, whose recursive JSON.stringify stops near 4,000 levels; raw
// bodies below go 30,000 deep.
const deepJson = fc.tuple(fc.constantFrom(50, 1_000, 3_000), fc.constantFrom('array' as const, 'object' as const)).map(([d, k]) => deep(d, k));

/** An array shown by fast-check as `label` rather than element by element. */
const labelled = <T>(value: T[], label: string): T[] => Object.defineProperty(value, fc.toStringMethod, { value: () => label, enumerable: false });

const bigArrays = fc.constantFrom(
  labelled(Array.from({ length: 10_000 }, () => 0), '[0 × 10000]'),
  labelled(Array.from({ length: 10_000 }, (_, i) => `v${i}`), '["v0" … "v9999"]'),
  labelled(Array.from({ length: 1_000 }, () => ({})), '[{} × 1000]'),
);

/** Objects with prototype-polluting keys (as own keys, the way JSON.parse makes them). */
export const pollutingObject = fc.constantFrom(
  JSON.parse('{"__proto__": {"polluted": "yes", "isAdmin": true}}') as unknown,
  JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}') as unknown,
  JSON.parse('{"__proto__": {"toString": "x"}, "a": "b"}') as unknown,
  JSON.parse('{"prototype": {"polluted": "yes"}}') as unknown,
);

/** Any hostile JSON value. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: oddStrings },
  { weight: 2, arbitrary: unicodeString() },
  { weight: 2, arbitrary: hugeNumbers },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: bigArrays },
  { weight: 2, arbitrary: pollutingObject },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, [], {}, [null], { '': '' }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** A hostile value as a query-string or path value. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: oddStrings },
  { weight: 2, arbitrary: unicodeString() },
  { weight: 1, arbitrary: hugeNumbers.map(String) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 8_000, 20_000).map((n) => 'q'.repeat(n)) },
);

/** Keys that should never be trusted as field names. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, '', ' ', '\u0000', 'a.b', '$where', 'client_id', 'id', 'deleted_at'), unicodeString(16));

// ── values from a schema ─────────────────────────────────────────────────────────────────────────

const ID_PREFIX = /prefixed `(\w+_)`/;
const ID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Instants as the API accepts them: an ISO timestamp with zone, or a date. */
const instant = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true })
  .chain((d) => fc.constantFrom(d.toISOString(), d.toISOString().slice(0, 10), d.toISOString().replace('Z', '+02:00'), d.toISOString().slice(0, 19) + 'Z'));

/** Well-formed ids of a kind (they name nothing, or, by chance, nothing of the caller's). */
const idOf = (prefix: string) => fc.string({ unit: fc.constantFrom(...ID_ALPHABET), minLength: 16, maxLength: 16 }).map((s) => prefix + s);

/**
 * Values the schema allows (mostly: pattern and format checks the API adds beyond the schema may still
 * refuse some). `base` is the valid request's value, offered again so real ids stay in play.
 */
export function fromSchema(s: JsonSchema, resolve: (s: JsonSchema) => JsonSchema, base?: unknown, depth = 0): fc.Arbitrary<unknown> {
  const r = resolve(s);
  const alts = r.anyOf ?? r.oneOf;
  if (alts) return fc.oneof(...alts.map((a) => fromSchema(a, resolve, base, depth)));
  if (r.enum) return fc.constantFrom(...r.enum);
  if (r.const !== undefined) return fc.constant(r.const);
  const type = [r.type ?? []].flat()[0];
  const withBase = (arb: fc.Arbitrary<unknown>) => (base === undefined ? arb : fc.oneof(fc.constant(base), arb));
  switch (type) {
    case 'string': {
      const prefix = ID_PREFIX.exec(r.description ?? '')?.[1];
      if (prefix) return withBase(idOf(prefix));
      if (r.format === 'date-time' || /ISO 8601|instant/i.test(r.description ?? '')) return withBase(instant);
      if (r.format === 'email') return fc.emailAddress().filter((e) => e.length <= (r.maxLength ?? 254));
      if (r.pattern) return withBase(fc.stringMatching(new RegExp(r.pattern)).filter((v) => v.length <= (r.maxLength ?? Infinity)));
      return withBase(fc.string({ unit: 'grapheme', minLength: r.minLength ?? 0, maxLength: Math.min(r.maxLength ?? 40, 40) }));
    }
    case 'integer':
      return withBase(fc.integer({ min: r.minimum ?? -1_000_000, max: r.maximum ?? 1_000_000 }));
    case 'number':
      return withBase(fc.double({ min: r.minimum ?? -1e6, max: r.maximum ?? 1e6, noNaN: true }));
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      if (depth > 4) return fc.constant([]);
      if (r.prefixItems) return fc.tuple(...r.prefixItems.map((p) => fromSchema(p, resolve, undefined, depth + 1)));
      if (!r.items) return fc.constant([]);
      return withBase(fc.array(fromSchema(r.items, resolve, undefined, depth + 1), { minLength: r.minItems ?? 0, maxLength: Math.min(r.maxItems ?? 5, 5) }));
    }
    case 'object': {
      if (depth > 4) return fc.constant({});
      const baseObj = base !== null && typeof base === 'object' && !Array.isArray(base) ? (base as Record<string, unknown>) : {};
      if (r.properties) {
        const props = Object.fromEntries(Object.entries(r.properties).map(([k, v]) => [k, fromSchema(v, resolve, baseObj[k], depth + 1)]));
        return withBase(fc.record(props, { requiredKeys: r.required ?? [] }));
      }
      if (typeof r.additionalProperties === 'object') {
        const names = r.propertyNames ? resolve(r.propertyNames) : {};
        const key = fc.string({ unit: 'grapheme-ascii', minLength: Math.max(1, names.minLength ?? 1), maxLength: Math.min(names.maxLength ?? 40, 40) });
        return withBase(fc.dictionary(key, fromSchema(r.additionalProperties, resolve, undefined, depth + 1), { maxKeys: 5 }));
      }
      return withBase(fc.constant({}));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Values on and just past each bound of the schema. */
export function boundaryOf(s: JsonSchema, resolve: (s: JsonSchema) => JsonSchema): fc.Arbitrary<unknown> {
  const values: unknown[] = [];
  const branches = (x: JsonSchema): JsonSchema[] => {
    const r = resolve(x);
    const alts = r.anyOf ?? r.oneOf;
    return alts ? alts.flatMap(branches) : [r];
  };
  for (const b of branches(s)) {
    const type = [b.type ?? []].flat()[0];
    if (type === 'string') {
      const min = b.minLength ?? 0;
      values.push('x'.repeat(min), '');
      if (min > 0) values.push('x'.repeat(min - 1));
      if (b.maxLength !== undefined) values.push('x'.repeat(b.maxLength), 'x'.repeat(b.maxLength + 1), 'é'.repeat(b.maxLength), '😀'.repeat(b.maxLength));
    } else if (type === 'integer' || type === 'number') {
      const min = b.minimum ?? -(2 ** 31);
      const max = b.maximum ?? 2 ** 31;
      values.push(min, max, min - 1, max + 1, 0, -1, min + 0.5, String(min), String(max + 1));
    } else if (type === 'array') {
      const item = b.prefixItems ? b.prefixItems.map(() => '09:00') : ['x'];
      values.push([], Array.from({ length: b.maxItems ?? 100 }, () => item[0]), Array.from({ length: (b.maxItems ?? 100) + 1 }, () => item[0]));
    } else if (type === 'object') {
      values.push({}, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'])), Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])));
      if (typeof b.additionalProperties === 'object') values.push({ ['k'.repeat(40)]: 'v'.repeat(500) }, { ['k'.repeat(41)]: 'v' }, { k: 'v'.repeat(501) });
    } else if (type === 'boolean') {
      values.push(true, false, 'true', 1);
    }
  }
  values.push(null);
  return fc.constantFrom(...values);
}

// ── raw requests ─────────────────────────────────────────────────────────────────────────────────

export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/xml',
  'application/json, text/plain',
  '*/*',
  'application/',
];

/** Raw request bodies: text or bytes, mostly not what the operation wants. */
export const rawBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '{"a":',
    '[]',
    '"just a string"',
    '42',
    'null',
    'true',
    '{"a":1,"a":2}',
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '\uFEFF{}',
    '{}\u0000',
    '{"a":"\u0000"}',
    '{"a":1e999}',
    '{"a":-1e999}',
    "{'a':1}",
    '{"a":1,}',
    '--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nJane\r\n--xyz--\r\n',
    'name=Jane&bot_id=x&__proto__[polluted]=yes',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
    `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
    JSON.stringify(Array.from({ length: 10_000 }, (_, i) => i)),
    JSON.stringify({ a: 'x'.repeat(60_000) }),
  ),
  fc.constantFrom(Buffer.from([0xff, 0xfe, 0x00, 0x7b]), Buffer.from([0xc3, 0x28, 0x7b, 0x7d]), Buffer.from('{"a":"\xed\xa0\x80"}', 'latin1')),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  unicodeString(200),
);

/** A raw query string (without `?`): repeated, bracketed, malformed, huge and polluting parameters. */
export function rawQuery(names: string[]): fc.Arbitrary<string> {
  const name = fc.oneof(fc.constantFrom(...(names.length ? names : ['limit'])), hostileKey.map(encodeAny), fc.constantFrom('__proto__[polluted]', 'constructor[prototype][polluted]', 'a[b][c]', 'limit[]'));
  const value = fc.oneof(hostileString.map(encodeAny), fc.constantFrom('%zz', '%', '%E0%A4%A', '%00', '%C0%AF', '+', '%2B', '', '=', '&&'), fc.integer().map(String));
  return fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 6 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
}

/** Path segments for an id: well-formed ids of another kind, junk, and raw malformed encodings. */
export const rawPathSegment: fc.Arbitrary<string> = fc.oneof(
  hostileString.map(encodeAny),
  fc.constantFrom('%zz', '%', '%E0%A4%A', '%00', '..', '.', '%2e%2e', '..%2f..%2f', 'lead_%00', '%C0%AE%C0%AE', 'a%2Fb', '%25'),
  fc.constantFrom('lead_', 'bot_', 'appt_', 'we_', 'msg_', 'cli_', 'key_').chain((p) => idOf(p)),
);
