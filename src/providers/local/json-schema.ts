// The JSON Schema subset node-llama-cpp can turn into a GBNF grammar (GbnfJsonSchema in
// node-llama-cpp 3.21). Its generator ignores keywords it does not know, so a schema with e.g.
// `pattern` or `minimum` would yield output that does not match it: such schemas are refused here.
import type { GbnfJsonSchema } from 'node-llama-cpp';

export class UnsupportedSchemaError extends Error {}

/** Annotations: they constrain nothing, so dropping them changes no output. */
const ANNOTATIONS = ['description', 'title', '$comment', 'examples', 'default', '$schema', '$id', 'deprecated', 'readOnly', 'writeOnly'];
const BASIC_TYPES = ['string', 'number', 'integer', 'boolean', 'null'];
/** Keywords allowed next to `type`, per type. */
const BY_TYPE: Record<string, string[]> = {
  object: ['properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties'],
  array: ['items', 'prefixItems', 'minItems', 'maxItems'],
  string: ['minLength', 'maxLength', 'format'],
};
const FORMATS = ['date-time', 'time', 'date'];

/**
 * The schema as node-llama-cpp's GbnfJsonSchema: annotations other than `description` removed,
 * `anyOf` written as `oneOf` (a grammar alternation means "any of"). Throws UnsupportedSchemaError
 * naming the first keyword (with its JSON pointer) the grammar could not enforce.
 */
export function toGbnfSchema(schema: unknown, at = '#'): GbnfJsonSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new UnsupportedSchemaError(`${at}: a schema must be an object`);
  const s = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if (typeof s.description === 'string') out.description = s.description;
  const keys = Object.keys(s).filter((k) => !ANNOTATIONS.includes(k));
  const unsupported = (k: string) => new UnsupportedSchemaError(`${at}: "${k}" is not supported`);

  if (s.$defs !== undefined) {
    if (typeof s.$defs !== 'object' || s.$defs === null) throw unsupported('$defs');
    out.$defs = Object.fromEntries(Object.entries(s.$defs).map(([k, v]) => [k, toGbnfSchema(v, `${at}/$defs/${k}`)]));
  }
  const rest = keys.filter((k) => k !== '$defs');
  const only = (allowed: string[]) => {
    const bad = rest.find((k) => !allowed.includes(k));
    if (bad) throw unsupported(bad);
  };

  if ('$ref' in s) {
    only(['$ref']);
    if (typeof s.$ref !== 'string' || !s.$ref.startsWith('#/$defs/')) throw unsupported('$ref (only "#/$defs/…")');
    return { ...out, $ref: s.$ref } as GbnfJsonSchema;
  }
  if ('const' in s) {
    only(['const']);
    if (!isScalar(s.const)) throw unsupported('const (only strings, numbers, booleans, null)');
    return { ...out, const: s.const } as GbnfJsonSchema;
  }
  if ('enum' in s) {
    only(['enum', 'type']);
    if (!Array.isArray(s.enum) || s.enum.length === 0 || !s.enum.every(isScalar)) throw unsupported('enum (only strings, numbers, booleans, null)');
    return { ...out, enum: s.enum } as GbnfJsonSchema;
  }
  for (const alt of ['oneOf', 'anyOf'] as const) {
    if (!(alt in s)) continue;
    only([alt]);
    const list = s[alt];
    if (!Array.isArray(list) || list.length === 0) throw unsupported(alt);
    return { ...out, oneOf: list.map((x, i) => toGbnfSchema(x, `${at}/${alt}/${i}`)) } as GbnfJsonSchema;
  }

  const type = s.type;
  if (Array.isArray(type)) {
    only(['type']);
    if (!type.every((t) => BASIC_TYPES.includes(t as string))) throw unsupported('type (a list may name only string, number, integer, boolean, null)');
    return { ...out, type } as GbnfJsonSchema;
  }
  if (typeof type !== 'string' || !(BASIC_TYPES.includes(type) || type in BY_TYPE)) throw unsupported(type === undefined ? 'a schema without type, enum, const, oneOf/anyOf or $ref' : 'type');
  only(['type', ...(BY_TYPE[type] ?? [])]);
  Object.assign(out, s, out);
  for (const k of ANNOTATIONS) if (k !== 'description') delete out[k];

  if (type === 'string' && s.format !== undefined && !FORMATS.includes(s.format as string)) throw unsupported(`format ${JSON.stringify(s.format)}`);
  if (type === 'object') {
    if (s.properties !== undefined) {
      if (typeof s.properties !== 'object' || s.properties === null) throw unsupported('properties');
      out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toGbnfSchema(v, `${at}/properties/${k}`)]));
    }
    if (typeof s.additionalProperties === 'object' && s.additionalProperties !== null) out.additionalProperties = toGbnfSchema(s.additionalProperties, `${at}/additionalProperties`);
  }
  if (type === 'array') {
    if (s.items !== undefined) out.items = toGbnfSchema(s.items, `${at}/items`);
    if (Array.isArray(s.prefixItems)) out.prefixItems = s.prefixItems.map((x, i) => toGbnfSchema(x, `${at}/prefixItems/${i}`));
  }
  return out as GbnfJsonSchema;
}

function isScalar(v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}
