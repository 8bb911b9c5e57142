// Lint gates on the published document: valid OpenAPI (swagger-parser), Redocly's recommended
// ruleset with no errors and no warnings, Spectral's OpenAPI rules plus the OWASP API Security
// ruleset with no errors (test/lint/spectral-ruleset.ts says why each override exists).
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/harness';
import { redoclyLint, spectralLint, type Finding } from './lint/lint';

let srv: TestServer;
let doc: unknown;
beforeAll(async () => {
  // As deployed: behind its public https address (an http server URL is itself an OWASP finding).
  srv = await startTestServer({ PUBLIC_BASE_URL: 'https://api.ormiar.com' });
  doc = (await srv.call('GET', '/v1/openapi.json')).body;
});
afterAll(() => srv.close());

const show = (findings: Finding[]) => findings.map((f) => `${f.severity} ${f.rule} ${f.path}: ${f.message}`);

describe('the OpenAPI document passes the lint gates', () => {
  it('is valid (swagger-parser)', async () => {
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('Redocly recommended: 0 errors, 0 warnings', async () => {
    expect(show(await redoclyLint(doc))).toEqual([]);
  }, 60_000);

  it('Spectral spectral:oas + OWASP: 0 errors (and 0 warnings)', async () => {
    const findings = await spectralLint(doc);
    expect(show(findings.filter((f) => f.severity === 'error' || f.severity === 'warn'))).toEqual([]);
  }, 60_000);

  it('the gates can fail: an unbounded input string and a missing 4xx are reported', async () => {
    const broken = structuredClone(doc) as { paths: Record<string, Record<string, { parameters?: { schema: Record<string, unknown> }[]; responses: Record<string, unknown> }>> };
    const op = broken.paths['/v1/leads']?.get;
    const param = op?.parameters?.find((p) => p.schema.type === 'string' && 'maxLength' in p.schema);
    if (param) delete param.schema.maxLength;
    if (op) for (const s of Object.keys(op.responses)) if (s.startsWith('4')) delete op.responses[s];
    expect((await spectralLint(broken)).filter((f) => f.severity === 'error').map((f) => f.rule)).toContain('ormiar-input-string-limit');
    expect((await redoclyLint(broken)).map((f) => f.rule)).toContain('operation-4xx-response');
  }, 60_000);
});
