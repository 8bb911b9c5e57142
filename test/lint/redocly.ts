// Redocly's recommended ruleset, unchanged: the document must pass it with no errors and no warnings.
export const redoclyConfig = { extends: ['recommended'] };
