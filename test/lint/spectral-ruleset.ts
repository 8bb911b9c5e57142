// The Spectral ruleset the OpenAPI document is held to (test/openapi-lint.test.ts): Spectral's own
// OpenAPI rules plus the OWASP API Security ruleset, all at their severities. Every rule turned off
// below says why, and where the OWASP rule's intent still applies it is checked by a narrower copy.
import { oas } from '@stoplight/spectral-rulesets';
import owasp from '@stoplight/spectral-owasp-ruleset';
import { defined, schema, xor } from '@stoplight/spectral-functions';
import type { RulesetDefinition } from '@stoplight/spectral-core';

// What callers send: parameters and request bodies (refs resolved), of the operations and webhooks.
const INPUTS = ['$.paths[*][*].parameters[*].schema', '$.paths[*][*].requestBody.content[*].schema'];
const inputsOfType = (type: string) => [
  `$.paths[*][*].parameters[?(@.schema && @.schema.type=="${type}")].schema`,
  ...INPUTS.map((root) => `${root}..[?(@ && @.type=="${type}")]`),
];

export const spectralRuleset = {
  extends: [
    [oas as RulesetDefinition, 'recommended'],
    [owasp as RulesetDefinition, 'all'],
  ],
  rules: {
    // No CORS, by design (API.md §2): keys belong on servers, so /v1 sends no Access-Control-* headers
    // and a browser page cannot call it.
    'owasp:api8:2023-define-cors-origin': 'off',

    // The contract sends both the IETF draft fields (RateLimit, RateLimit-Policy) and X-RateLimit-*;
    // the OWASP rule's oneOf fails a response that has both. It also asks for them on 401 and 403,
    // which are answered before the limiter counts the request (API.md §5). The copy below asks for
    // all five on every other 2xx and 4xx.
    'owasp:api4:2023-rate-limit': 'off',
    'ormiar-rate-limit-headers': {
      description: 'Every 2xx and 4xx but 401/403 declares the five rate-limit headers.',
      severity: 'error',
      given: "$.paths[*][*].responses[?(@property.match(/^(2|4)/) && @property != '401' && @property != '403')]",
      then: {
        field: 'headers',
        function: schema,
        functionOptions: { schema: { type: 'object', required: ['RateLimit', 'RateLimit-Policy', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'] } },
      },
    },

    // Bounds limit what callers can make the server accept and store (OWASP API4, unrestricted
    // resource consumption), so they are required on every input. Response fields are written by
    // the server from values bounded on the way in; the document declares the shape it sends, not
    // limits it enforces on itself, so the copies below check inputs only.
    'owasp:api4:2023-string-limit': 'off',
    'owasp:api4:2023-string-restricted': 'off',
    'owasp:api4:2023-array-limit': 'off',
    'owasp:api4:2023-integer-limit': 'off',
    'owasp:api4:2023-integer-limit-legacy': 'off',
    'ormiar-input-string-limit': {
      description: 'Every string a caller sends has maxLength, enum or const.',
      severity: 'error',
      given: inputsOfType('string'),
      then: { function: schema, functionOptions: { schema: { type: 'object', anyOf: [{ required: ['maxLength'] }, { required: ['enum'] }, { required: ['const'] }] } } },
    },
    'ormiar-input-array-limit': {
      description: 'Every array a caller sends has maxItems.',
      severity: 'error',
      given: inputsOfType('array'),
      then: { field: 'maxItems', function: defined },
    },
    'ormiar-input-integer-limit': {
      description: 'Every integer a caller sends has a minimum and a maximum.',
      severity: 'error',
      given: inputsOfType('integer'),
      then: [
        { function: xor, functionOptions: { properties: ['minimum', 'exclusiveMinimum'] } },
        { function: xor, functionOptions: { properties: ['maximum', 'exclusiveMaximum'] } },
      ],
    },
    // The document describes the one server that serves it (PUBLIC_BASE_URL); the same build serves
    // every environment, so its description cannot name one.
    'owasp:api9:2023-inventory-environment': 'off',
  },
} satisfies RulesetDefinition;
