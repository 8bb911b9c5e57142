// Runs Spectral (spectral:oas + OWASP) and Redocly (recommended) over an OpenAPI document.
import { Document, Spectral } from '@stoplight/spectral-core';
import Parsers from '@stoplight/spectral-parsers';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { spectralRuleset } from './spectral-ruleset';
import { redoclyConfig } from './redocly';

export interface Finding {
  tool: 'spectral' | 'redocly';
  severity: 'error' | 'warn' | 'info' | 'hint';
  rule: string;
  path: string;
  message: string;
}

const SPECTRAL_SEVERITY = ['error', 'warn', 'info', 'hint'] as const;

export async function spectralLint(doc: unknown): Promise<Finding[]> {
  const spectral = new Spectral();
  spectral.setRuleset(spectralRuleset);
  const results = await spectral.run(new Document(JSON.stringify(doc, null, 2), Parsers.Json, 'openapi.json'));
  return results.map((r) => ({
    tool: 'spectral',
    severity: SPECTRAL_SEVERITY[r.severity] ?? 'error',
    rule: String(r.code),
    path: r.path.join('.'),
    message: r.message,
  }));
}

export async function redoclyLint(doc: unknown): Promise<Finding[]> {
  const config = await createConfig(redoclyConfig);
  const problems = await lintFromString({ source: JSON.stringify(doc, null, 2), absoluteRef: '/openapi.json', config });
  return problems.map((p) => ({
    tool: 'redocly',
    severity: p.severity === 'error' ? 'error' : 'warn',
    rule: p.ruleId,
    path: p.location[0]?.pointer ?? '',
    message: p.message,
  }));
}
