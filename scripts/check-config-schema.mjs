#!/usr/bin/env node
// Validates documents against the JSON Schema of repowatch.toml (schema/repowatch.schema.json) with Ajv, the
// validator behind most editors' JSON Schema support, in strict mode (but for strictRequired), so the schema is
// also checked for keywords Ajv does not know and for ambiguous types. tests/e2e/schema.rs feeds it the same good and bad files it gives the config parser.
//
// Usage: node scripts/check-config-schema.mjs SCHEMA.json < CASES.json
//   CASES.json: [{"name": "...", "doc": {...}}, ...]  (each a repowatch.toml converted to JSON)
// Prints one JSON array: [{"name": "...", "valid": true|false, "errors": ["/pointer: message", ...]}, ...]
// Exit: 0 ran, 2 usage error (schema not compilable, packages missing).
// Ajv is resolved from $REPOWATCH_NODE_MODULES (default ~/.cache/repowatch/node/node_modules).

import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function usage(message) {
  process.stderr.write(`check-config-schema: ${message}\n`);
  process.exit(2);
}

const modulesDir = path.resolve(
  process.env.REPOWATCH_NODE_MODULES || path.join(os.homedir(), '.cache/repowatch/node/node_modules'),
);
const require = createRequire(path.join(modulesDir, 'check-config-schema.cjs'));
let Ajv2020;
try {
  Ajv2020 = require('ajv/dist/2020');
} catch (e) {
  usage(`ajv missing in ${modulesDir}: install it with npm install --prefix ~/.cache/repowatch/node ajv@8.17.1`);
}

const [schemaPath] = process.argv.slice(2);
if (!schemaPath) usage('usage: node scripts/check-config-schema.mjs SCHEMA.json < CASES.json');
let validate;
try {
  const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
  // strictRequired is off: `oneOf: [{required: [repo]}, {required: [path]}]` names properties defined beside it.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  validate = ajv.compile(schema);
} catch (e) {
  usage(`${schemaPath}: ${e.message}`);
}
let cases;
try {
  cases = JSON.parse(fs.readFileSync(0, 'utf8'));
} catch (e) {
  usage(`cases on stdin: ${e.message}`);
}
const results = cases.map(({ name, doc }) => {
  const valid = validate(doc);
  const errors = valid ? [] : validate.errors.map((e) => `${e.instancePath || '/'}: ${e.message}`);
  return { name, valid, errors };
});
process.stdout.write(JSON.stringify(results) + '\n');
