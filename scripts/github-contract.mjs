#!/usr/bin/env node
// Checks every exchange the fake GitHub (crates/repowatch-github-fake) served against GitHub's own published
// descriptions, so the fake cannot drift from GitHub:
//
// * GraphQL: the query is validated against @octokit/graphql-schema (schema.json, the introspection result the
//   package itself validates with; its schema.graphql is not valid SDL in 15.26.1) and GitHub's documented limits
//   (first/last 1..=100 on every connection, 500,000 nodes); the response's data is re-executed against the schema
//   with the response as the resolvers' source, so its shape, types, nullability and enum values must be what GitHub
//   returns for that query; errors[] must be well-formed; rateLimit.cost must follow GitHub's documented formula.
//   A query GitHub would reject must have been rejected (errors only, no data), and a valid one must not have been
//   rejected for schema reasons.
// * REST: the operation is looked up by method and path template in @octokit/openapi's
//   generated/api.github.com.deref.json; the request body is validated against its requestBody schema (a request
//   GitHub would refuse must have been refused with 400/422), the response body against responses[status] (OpenAPI
//   3.0 `nullable` handled), a 204 must be empty, and an undocumented status is a problem, except GitHub's generic
//   ones: 401/404 (basic-error), 422 (validation-error), 301/307 (with location) and 403/429/5xx faults.
// * Every response carries GitHub's x-ratelimit-* headers; 403/429 carry retry-after or x-ratelimit-remaining: 0
//   with x-ratelimit-reset; no Authorization value is ever logged.
//
// Usage: node scripts/github-contract.mjs EXCHANGES.jsonl
// Exit: 0 no problem, 1 problems (each printed with the exchange index and a JSON pointer), 2 usage error.
// npm packages are resolved from $REPOWATCH_NODE_MODULES (default ~/.cache/repowatch/node/node_modules).

import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const INSTALL =
  'npm install --prefix ~/.cache/repowatch/node @octokit/openapi@23.0.2 @octokit/graphql-schema@15.26.1 graphql@16 ajv@8.17.1 ajv-formats@3.0.1';

function usage(message) {
  console.error(`github-contract: ${message}`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length !== 1 || args[0].startsWith('-')) usage('usage: node scripts/github-contract.mjs EXCHANGES.jsonl');
const exchangesFile = args[0];
if (!fs.existsSync(exchangesFile)) usage(`no such file: ${exchangesFile}`);

const modulesDir = path.resolve(
  process.env.REPOWATCH_NODE_MODULES || path.join(os.homedir(), '.cache/repowatch/node/node_modules'),
);
const require = createRequire(path.join(modulesDir, 'github-contract.cjs'));
let graphql, Ajv, addFormats;
try {
  graphql = require('graphql');
  Ajv = require('ajv');
  addFormats = require('ajv-formats');
} catch (e) {
  usage(`npm packages missing in ${modulesDir} (${String(e.message).split('\n')[0]}); install them: ${INSTALL}`);
}
Ajv = Ajv.default ?? Ajv;
addFormats = addFormats.default ?? addFormats;
const openapiPath = path.join(modulesDir, '@octokit/openapi/generated/api.github.com.deref.json');
const graphqlSchemaPath = path.join(modulesDir, '@octokit/graphql-schema/schema.json');
for (const p of [openapiPath, graphqlSchemaPath]) {
  if (!fs.existsSync(p)) usage(`${p} is missing; install the npm packages: ${INSTALL}`);
}

const {
  Kind,
  GraphQLError,
  GraphQLSkipDirective,
  GraphQLIncludeDirective,
  buildClientSchema,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getVariableValues,
  isAbstractType,
  isScalarType,
  parse,
  validate,
  execute,
} = graphql;

// ---------------------------------------------------------------------------------------------------------------
// Problems

const problems = [];
function problem(index, exchange, pointer, message) {
  problems.push({ index, where: `${exchange.method ?? '?'} ${exchange.path ?? '?'}`, pointer, message });
}
const escapePointer = (s) => String(s).replaceAll('~', '~0').replaceAll('/', '~1');
const pointerOf = (prefix, pathKeys) => prefix + pathKeys.map((k) => `/${escapePointer(k)}`).join('');
const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

// ---------------------------------------------------------------------------------------------------------------
// Headers every GitHub API response carries

const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-used', 'x-ratelimit-reset'];
const isIntString = (v) => typeof v === 'string' && /^\d+$/.test(v);

function checkCommon(index, ex) {
  const req = ex.request_headers ?? {};
  for (const [name, value] of Object.entries(req)) {
    if (name !== name.toLowerCase()) problem(index, ex, `/request_headers/${escapePointer(name)}`, 'header names must be lowercase');
    if (name.toLowerCase() === 'authorization' && value !== '<redacted>') {
      problem(index, ex, `/request_headers/${escapePointer(name)}`, 'the Authorization value must be logged as "<redacted>"');
    }
  }
  const res = ex.response_headers ?? {};
  for (const name of RATE_HEADERS) {
    if (!isIntString(res[name])) problem(index, ex, `/response_headers/${name}`, `GitHub sends ${name} (an integer) on every response, got ${show(res[name])}`);
  }
  if (typeof res['x-ratelimit-resource'] !== 'string' || res['x-ratelimit-resource'] === '') {
    problem(index, ex, '/response_headers/x-ratelimit-resource', 'GitHub sends x-ratelimit-resource on every response');
  }
  if (ex.status === 403 || ex.status === 429) {
    const retry = res['retry-after'];
    const primary = res['x-ratelimit-remaining'] === '0' && isIntString(res['x-ratelimit-reset']);
    // GitHub documents secondary limits that name no time: "If the retry-after
    // response header is not present ... wait for at least one minute".
    const message = typeof ex.response_body?.message === 'string' ? ex.response_body.message : '';
    const secondary = /secondary rate limit/i.test(message);
    if (!isIntString(retry) && !primary && !secondary) {
      problem(index, ex, '/response_headers', `a ${ex.status} must carry retry-after, or x-ratelimit-remaining: 0 with x-ratelimit-reset, or be a secondary rate limit, as GitHub's rate limits do`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// GraphQL

let gqlSchema = null;
function graphqlSchema() {
  if (gqlSchema) return gqlSchema;
  gqlSchema = buildClientSchema(JSON.parse(fs.readFileSync(graphqlSchemaPath, 'utf8')));
  // Strict serialisation: graphql-js would coerce (5 -> "5") or pass custom scalars through unchecked.
  const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  const str = (v) => typeof v === 'string';
  const checks = {
    String: str,
    ID: (v) => str(v) || Number.isInteger(v),
    Int: (v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31,
    Float: (v) => typeof v === 'number' && Number.isFinite(v),
    Boolean: (v) => typeof v === 'boolean',
    GitObjectID: (v) => str(v) && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(v),
    DateTime: (v) => str(v) && isoDateTime.test(v) && !Number.isNaN(Date.parse(v)),
    PreciseDateTime: (v) => str(v) && isoDateTime.test(v) && !Number.isNaN(Date.parse(v)),
    GitTimestamp: (v) => str(v) && isoDateTime.test(v),
    Date: (v) => str(v) && /^\d{4}-\d{2}-\d{2}$/.test(v),
    URI: (v) => {
      if (!str(v)) return false;
      try {
        new URL(v);
        return true;
      } catch {
        return false;
      }
    },
  };
  for (const type of Object.values(gqlSchema.getTypeMap())) {
    if (!isScalarType(type) || type.name.startsWith('__')) continue;
    const ok = checks[type.name] ?? str;
    type.serialize = (value) => {
      if (!ok(value)) throw new GraphQLError(`${type.name} cannot represent ${show(value)}`);
      return value;
    };
  }
  return gqlSchema;
}

const STATIC_CODES = new Set([
  'undefinedField', 'argumentNotAccepted', 'missingRequiredArguments', 'argumentLiteralsIncompatible',
  'selectionMismatch', 'undefinedType', 'cannotSpreadFragment', 'useAndDefineFragment', 'infiniteLoop',
  'variableNotDefined', 'variableNotUsed', 'variableMismatch', 'variableRequiresValidType', 'undefinedDirective',
  'fragmentOnNonCompositeType', 'fragmentNotUnique', 'missingFieldsForOperation',
]);
const LIMIT_TYPES = new Set(['EXCESSIVE_PAGINATION', 'MISSING_PAGINATION_BOUNDARIES', 'MAX_NODE_LIMIT_EXCEEDED', 'INVALID_PAGINATION']);

function shouldInclude(node, variables) {
  const skip = getDirectiveValues(GraphQLSkipDirective, node, variables);
  if (skip?.if === true) return false;
  const include = getDirectiveValues(GraphQLIncludeDirective, node, variables);
  return include?.if !== false;
}

/** GitHub's documented limits and cost for an operation: reasons GitHub would reject it, and its cost. */
function limitsAndCost(schema, operation, fragments, variables) {
  const reasons = [];
  let requests = 0;
  let nodes = 0;
  const seen = new Set();
  const walk = (parent, selectionSet, multiplier, keys, stack) => {
    for (const sel of selectionSet.selections) {
      if (!shouldInclude(sel, variables)) continue;
      if (sel.kind === Kind.FIELD) {
        const def = parent.getFields?.()[sel.name.value];
        if (!def) continue;
        const key = (sel.alias ?? sel.name).value;
        const here = [...keys, key];
        const unique = !seen.has(here.join('\u0000'));
        seen.add(here.join('\u0000'));
        const named = getNamedType(def.type);
        let childMultiplier = multiplier;
        if (parent === schema.getQueryType() && sel.name.value === 'repository' && unique) requests += multiplier;
        if (named.name.endsWith('Connection')) {
          const values = getArgumentValues(def, sel, variables);
          const which = values.first != null ? 'first' : values.last != null ? 'last' : null;
          const n = which ? values[which] : null;
          if (n == null) {
            reasons.push(`${here.join('.')}: a connection needs \`first\` or \`last\``);
            continue;
          }
          if (n < 1 || n > 100) {
            reasons.push(`${here.join('.')}: \`${which}: ${n}\` is outside 1..100`);
            continue;
          }
          if (unique) {
            requests += multiplier;
            nodes += multiplier * n;
          }
          childMultiplier = multiplier * n;
        }
        if (sel.selectionSet) walk(named, sel.selectionSet, childMultiplier, here, stack);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        if (type) walk(type, sel.selectionSet, multiplier, keys, stack);
      } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments[sel.name.value];
        if (!fragment || stack.includes(fragment)) continue;
        const type = schema.getType(fragment.typeCondition.name.value);
        if (type) walk(type, fragment.selectionSet, multiplier, keys, [...stack, fragment]);
      }
    }
  };
  walk(schema.getQueryType(), operation.selectionSet, 1, [], []);
  if (nodes > 500000) reasons.push(`the query asks for up to ${nodes} nodes, over GitHub's 500,000`);
  return { reasons, cost: Math.max(1, Math.round(requests / 100)) };
}

/** The response keys an object of `type` gets from these selection sets, and which of them are __typename. */
function responseKeys(schema, type, selectionSets, fragments, variables) {
  const keys = new Set();
  const typenameKeys = [];
  const applies = (conditionName) => {
    const condition = schema.getType(conditionName);
    if (!condition) return false;
    return condition === type || (isAbstractType(condition) && schema.isSubType(condition, type));
  };
  const visit = (selectionSet, stack) => {
    for (const sel of selectionSet.selections) {
      if (!shouldInclude(sel, variables)) continue;
      if (sel.kind === Kind.FIELD) {
        const key = (sel.alias ?? sel.name).value;
        keys.add(key);
        if (sel.name.value === '__typename') typenameKeys.push(key);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (!sel.typeCondition || applies(sel.typeCondition.name.value)) visit(sel.selectionSet, stack);
      } else {
        const fragment = fragments[sel.name.value];
        if (fragment && !stack.includes(fragment) && applies(fragment.typeCondition.name.value)) {
          visit(fragment.selectionSet, [...stack, fragment]);
        }
      }
    }
  };
  for (const set of selectionSets) visit(set, []);
  return { keys, typenameKeys };
}

/** Structural differences between what the schema makes of the data and the data itself. */
function diff(expected, actual, keys, out) {
  if (expected === actual) return;
  const isObj = (v) => v !== null && typeof v === 'object';
  if (!isObj(expected) || !isObj(actual) || Array.isArray(expected) !== Array.isArray(actual)) {
    out.push([keys, `GitHub's schema makes this ${show(expected)}, the fake sent ${show(actual)}`]);
    return;
  }
  if (Array.isArray(expected)) {
    if (expected.length !== actual.length) out.push([keys, `list of ${actual.length} became ${expected.length}`]);
    for (let i = 0; i < Math.min(expected.length, actual.length); i++) diff(expected[i], actual[i], [...keys, i], out);
    return;
  }
  for (const key of Object.keys(expected)) {
    if (!(key in actual)) out.push([[...keys, key], 'selected by the query but missing from the response']);
    else diff(expected[key], actual[key], [...keys, key], out);
  }
  for (const key of Object.keys(actual)) {
    if (!(key in expected)) out.push([[...keys, key], 'in the response but not selected by the query']);
  }
}

function checkGraphqlErrors(index, ex, body) {
  if (!('errors' in body)) return;
  if (!Array.isArray(body.errors) || body.errors.length === 0) {
    problem(index, ex, '/response_body/errors', 'errors must be a non-empty list when present');
    return;
  }
  body.errors.forEach((e, i) => {
    const at = `/response_body/errors/${i}`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return problem(index, ex, at, 'an error must be an object');
    if (typeof e.message !== 'string') problem(index, ex, `${at}/message`, 'an error needs a string message');
    if ('path' in e && !(Array.isArray(e.path) && e.path.every((p) => typeof p === 'string' || Number.isInteger(p)))) {
      problem(index, ex, `${at}/path`, 'path must be a list of strings and integers');
    }
    if ('locations' in e) {
      const ok = Array.isArray(e.locations) && e.locations.every((l) => l && Number.isInteger(l.line) && l.line >= 1 && Number.isInteger(l.column) && l.column >= 1);
      if (!ok) problem(index, ex, `${at}/locations`, 'locations must be a list of {line, column} (1-based integers)');
    }
    if ('extensions' in e && (e.extensions === null || typeof e.extensions !== 'object' || Array.isArray(e.extensions))) {
      problem(index, ex, `${at}/extensions`, 'extensions must be an object');
    }
    // An error about a field leaves that field (or a parent nulled by it) null.
    if (Array.isArray(e.path) && body.data && typeof body.data === 'object') {
      let node = body.data;
      for (const key of e.path) {
        if (node === null || typeof node !== 'object') break;
        node = node[key];
      }
      if (node !== null && node !== undefined) problem(index, ex, pointerOf('/response_body/data', e.path), `error ${i} is about this field, so it must be null`);
    }
  });
}

function checkGraphql(index, ex) {
  const schema = graphqlSchema();
  const request = ex.request_body;
  const body = ex.response_body;
  const rejectedOnly = ex.status === 200 && body && typeof body === 'object' && (body.data === undefined || body.data === null) && Array.isArray(body.errors) && body.errors.length > 0;
  const answered = ex.status === 200 && body && typeof body === 'object' && body.data !== undefined && body.data !== null;
  const refusal = (reasons) => {
    if (answered) for (const r of reasons) problem(index, ex, r.pointer, `GitHub rejects this query (${r.message}) but the fake answered it`);
    else if (ex.status === 200 && !rejectedOnly) problem(index, ex, '/response_body', 'GitHub answers a query it rejects with 200 and errors');
  };

  if (request === null || typeof request !== 'object' || Array.isArray(request) || typeof request.query !== 'string') {
    return refusal([{ pointer: '/request_body/query', message: 'a GraphQL request needs a string query' }]);
  }
  let document;
  try {
    document = parse(request.query);
  } catch (e) {
    return refusal([{ pointer: '/request_body/query', message: `syntax: ${e.message}` }]);
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) {
    return refusal(invalid.map((e) => ({
      pointer: '/request_body/query',
      message: `${e.message}${e.locations?.length ? ` at line ${e.locations[0].line}, column ${e.locations[0].column}` : ''}`,
    })));
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = request.operationName ? operations.find((o) => o.name?.value === request.operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return refusal([{ pointer: '/request_body/operationName', message: 'no single operation to run' }]);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {});
  if (coerced.errors) {
    return refusal(coerced.errors.map((e) => ({ pointer: '/request_body/variables', message: e.message })));
  }
  const variables = coerced.coerced;
  const fragments = Object.fromEntries(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  const { reasons, cost } = limitsAndCost(schema, operation, fragments, variables);
  if (reasons.length > 0) return refusal(reasons.map((message) => ({ pointer: '/request_body/query', message })));

  // GitHub accepts this query. Transport faults (non-200) carry no GraphQL answer to check.
  if (ex.status !== 200) return;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return problem(index, ex, '/response_body', 'a 200 GraphQL response must be a JSON object');
  if (!('data' in body) && !('errors' in body)) return problem(index, ex, '/response_body', 'a GraphQL response needs data or errors');
  for (const key of Object.keys(body)) {
    if (!['data', 'errors', 'extensions'].includes(key)) problem(index, ex, `/response_body/${escapePointer(key)}`, 'not a GraphQL response member');
  }
  checkGraphqlErrors(index, ex, body);
  (body.errors ?? []).forEach((e, i) => {
    const code = e?.extensions?.code;
    if (STATIC_CODES.has(code)) problem(index, ex, `/response_body/errors/${i}`, `the fake rejected a query GitHub's schema accepts (${code}: ${e.message})`);
    if (LIMIT_TYPES.has(e?.type)) problem(index, ex, `/response_body/errors/${i}`, `the fake rejected a query within GitHub's limits (${e.type}: ${e.message})`);
  });
  if (!answered) return;

  const typeResolver = (value, _context, info, abstractType) => {
    if (value === null || typeof value !== 'object') return undefined;
    const sets = info.fieldNodes.map((n) => n.selectionSet).filter(Boolean);
    const possible = schema.getPossibleTypes(abstractType);
    for (const type of possible) {
      for (const key of responseKeys(schema, type, sets, fragments, variables).typenameKeys) {
        if (typeof value[key] === 'string') return value[key];
      }
    }
    const actual = Object.keys(value);
    let best;
    let bestScore = -Infinity;
    for (const type of possible) {
      const { keys } = responseKeys(schema, type, sets, fragments, variables);
      const score = actual.filter((k) => keys.has(k)).length * 2 - actual.length - [...keys].filter((k) => !(k in value)).length;
      if (score > bestScore) {
        best = type;
        bestScore = score;
      }
    }
    return best?.name;
  };
  const fieldResolver = (source, _args, _context, info) => (source === null || typeof source !== 'object' ? undefined : source[info.path.key]);
  const result = execute({ schema, document, rootValue: body.data, variableValues: request.variables ?? {}, operationName: request.operationName, fieldResolver, typeResolver });
  if (result.errors?.length) {
    for (const e of result.errors) problem(index, ex, pointerOf('/response_body/data', e.path ?? []), e.message);
    return;
  }
  const differences = [];
  diff(JSON.parse(JSON.stringify(result.data)), body.data, [], differences);
  for (const [keys, message] of differences) problem(index, ex, pointerOf('/response_body/data', keys), message);

  // rateLimit.cost follows GitHub's documented formula.
  for (const sel of operation.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD || sel.name.value !== 'rateLimit' || !sel.selectionSet) continue;
    const key = (sel.alias ?? sel.name).value;
    for (const sub of sel.selectionSet.selections) {
      if (sub.kind !== Kind.FIELD || sub.name.value !== 'cost') continue;
      const subKey = (sub.alias ?? sub.name).value;
      const got = body.data?.[key]?.[subKey];
      if (got !== undefined && got !== null && got !== cost) {
        problem(index, ex, pointerOf('/response_body/data', [key, subKey]), `GitHub's documented cost of this query is ${cost}, the fake reported ${got}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// REST

let spec = null;
function openapi() {
  if (!spec) spec = JSON.parse(fs.readFileSync(openapiPath, 'utf8'));
  return spec;
}

const ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true });
addFormats(ajv);
for (const format of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) ajv.addFormat(format, true);
const compiled = new Map();

const SCHEMA_KEYWORDS = new Set(['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'additionalItems']);
const SCHEMA_LIST_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_MAP_KEYWORDS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas']);
const DROPPED = new Set(['nullable', 'example', 'examples', 'discriminator', 'readOnly', 'writeOnly', 'deprecated', 'externalDocs', 'xml']);

/** OpenAPI 3.0 schema -> JSON Schema (ajv): `nullable: true` becomes "or null"; OpenAPI-only keywords go. */
function toJsonSchema(schema) {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED.has(key) || key.startsWith('x-')) continue;
    if (SCHEMA_KEYWORDS.has(key)) out[key] = toJsonSchema(value);
    else if (SCHEMA_LIST_KEYWORDS.has(key)) out[key] = value.map(toJsonSchema);
    else if (SCHEMA_MAP_KEYWORDS.has(key)) out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSchema(v)]));
    else out[key] = value;
  }
  return schema.nullable === true ? { anyOf: [out, { type: 'null' }] } : out;
}

function validator(key, schema) {
  if (!compiled.has(key)) compiled.set(key, ajv.compile(toJsonSchema(schema)));
  return compiled.get(key);
}

/** Ajv errors as [pointer, message] (a missing property is pointed at itself). */
function schemaErrors(validate, value, prefix) {
  if (validate(value)) return [];
  const seen = new Set();
  const out = [];
  for (const e of validate.errors ?? []) {
    let pointer = prefix + e.instancePath;
    if (e.keyword === 'required') pointer += `/${escapePointer(e.params.missingProperty)}`;
    if (e.keyword === 'additionalProperties') pointer += `/${escapePointer(e.params.additionalProperty)}`;
    const message = e.keyword === 'required' ? `missing, GitHub's description requires it (${e.message})` : `${e.message}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : ''}`;
    const line = `${pointer}\u0000${message}`;
    if (!seen.has(line)) {
      seen.add(line);
      out.push([pointer, message]);
    }
  }
  return out.slice(0, 20);
}

/** A schema of the description by its title (GitHub's generic error bodies). */
const genericSchemas = new Map();
function schemaTitled(title) {
  if (genericSchemas.has(title)) return genericSchemas.get(title);
  let found = null;
  outer: for (const item of Object.values(openapi().paths)) {
    for (const op of Object.values(item)) {
      for (const response of Object.values(op?.responses ?? {})) {
        const schema = response?.content?.['application/json']?.schema;
        if (schema?.title === title) {
          found = schema;
          break outer;
        }
      }
    }
  }
  genericSchemas.set(title, found);
  return found;
}

function templateRegex(template, op) {
  const multi = new Set((op.parameters ?? []).filter((p) => p.in === 'path' && p['x-multi-segment']).map((p) => p.name));
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return multi.has(m[1]) ? '.+' : '[^/]+';
    })
    .join('');
  return new RegExp(`^${source}$`);
}

function isEmptyBody(body) {
  return body === null || body === undefined || body === '';
}

function checkGeneric(index, ex, op) {
  const status = ex.status;
  const body = ex.response_body;
  const check = (titles) => {
    const schemas = titles.map(schemaTitled).filter(Boolean);
    if (schemas.length === 0) return;
    const results = schemas.map((s) => schemaErrors(validator(`title:${s.title}`, s), body, '/response_body'));
    if (results.every((r) => r.length > 0)) for (const [pointer, message] of results[0]) problem(index, ex, pointer, `${message} (GitHub's ${titles.join(' / ')} body)`);
  };
  if (status === 401 || status === 404 || status === 400) return check(['Basic Error']);
  if (status === 422) return check(['Validation Error', 'Validation Error Simple']);
  if ([301, 302, 307, 308].includes(status)) {
    if (typeof ex.response_headers?.location !== 'string') problem(index, ex, '/response_headers/location', `a ${status} redirect needs a location`);
    return;
  }
  if ([403, 429, 500, 502, 503, 504].includes(status)) return; // rate limits and transport faults
  problem(index, ex, '/status', `${status} is not a status GitHub documents for ${ex.method} ${op ? ex.operation : 'this path'}`);
}

function checkRest(index, ex) {
  const method = String(ex.method ?? '').toLowerCase();
  const op = openapi().paths[ex.operation]?.[method];
  if (!op) {
    if (ex.operation !== 'unknown') {
      problem(index, ex, '/operation', `${ex.method} ${ex.operation} is not an operation of GitHub's REST API`);
    } else if (ex.status !== 404 && ex.status !== 401) {
      problem(index, ex, '/status', `a path the fake does not serve must get 404, got ${ex.status}`);
    }
    if (ex.status === 404 || ex.status === 401) checkGeneric(index, ex, null);
    return;
  }
  if (!templateRegex(ex.operation, op).test(ex.path)) {
    problem(index, ex, '/path', `${ex.path} does not match ${ex.operation}`);
  }

  // The request: a body GitHub would refuse must have been refused.
  const requestSchema = op.requestBody?.content?.['application/json']?.schema;
  let requestProblems = [];
  if (requestSchema) {
    if (isEmptyBody(ex.request_body)) {
      if (op.requestBody.required) requestProblems = [['/request_body', 'GitHub requires a JSON body here']];
    } else {
      requestProblems = schemaErrors(validator(`req:${method} ${ex.operation}`, requestSchema), ex.request_body, '/request_body');
    }
  }
  if (requestProblems.length > 0 && ex.status < 400) {
    for (const [pointer, message] of requestProblems) problem(index, ex, pointer, `${message}; GitHub refuses this request, the fake answered ${ex.status}`);
  }
  if (requestProblems.length === 0 && requestSchema && ex.status === 400) {
    problem(index, ex, '/status', 'the request body is valid for GitHub, the fake refused it with 400');
  }

  // The response.
  const documented = op.responses?.[String(ex.status)];
  if (!documented) return checkGeneric(index, ex, op);
  const content = documented.content?.['application/json'];
  if (content?.schema) {
    if (isEmptyBody(ex.response_body)) {
      problem(index, ex, '/response_body', `GitHub's ${ex.status} carries a JSON body`);
    } else {
      for (const [pointer, message] of schemaErrors(validator(`res:${method} ${ex.operation} ${ex.status}`, content.schema), ex.response_body, '/response_body')) {
        problem(index, ex, pointer, message);
      }
    }
  } else if (!documented.content && !isEmptyBody(ex.response_body)) {
    problem(index, ex, '/response_body', `GitHub's ${ex.status} here has an empty body, the fake sent ${show(ex.response_body)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

const lines = fs.readFileSync(exchangesFile, 'utf8').split('\n');
let total = 0;
let graphqlCount = 0;
let restCount = 0;
lines.forEach((line, lineIndex) => {
  if (line.trim() === '') return;
  const index = total++;
  let ex;
  try {
    ex = JSON.parse(line);
  } catch (e) {
    problems.push({ index, where: `line ${lineIndex + 1}`, pointer: '', message: `not JSON: ${e.message}` });
    return;
  }
  if (ex === null || typeof ex !== 'object' || typeof ex.method !== 'string' || typeof ex.path !== 'string' || !Number.isInteger(ex.status) || typeof ex.operation !== 'string') {
    problems.push({ index, where: `line ${lineIndex + 1}`, pointer: '', message: 'an exchange needs method, path, status and operation' });
    return;
  }
  try {
    checkCommon(index, ex);
    if (ex.operation === 'graphql') {
      graphqlCount++;
      checkGraphql(index, ex);
    } else {
      restCount++;
      checkRest(index, ex);
    }
  } catch (e) {
    problem(index, ex, '', `checker error: ${e.stack ?? e}`);
  }
});

for (const p of problems) console.log(`exchange #${p.index} (${p.where}) ${p.pointer || '/'}: ${p.message}`);
console.log(`checked ${total} exchanges: ${graphqlCount} graphql, ${restCount} rest; ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
process.exit(problems.length > 0 ? 1 : 0);
