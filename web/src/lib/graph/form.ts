// A node type's config JSON Schema (GET /api/node-types) turned into a form model the side panel
// renders: one field per property, with its widget, title, help text, default, bounds and the
// syntax of expression fields. Covers every construct the node schemas use: enums, nested
// objects, maps (additionalProperties), arrays, oneOf between shapes, "exactly one of" groups,
// defaults and descriptions, and references to other objects of the project
// (`x-meshhook-ref`), which are picked from a list. Anything else falls back to a raw JSON field,
// never to nothing.

export type Syntax = 'jmespath' | 'template' | 'url_template';

export type Field =
  | ScalarField
  | EnumField
  | ObjectField
  | MapField
  | ArrayField
  | ChoiceField
  | JsonField
  | GraphField
  | RefField;

interface Base {
  /** Property name ("" for the root). */
  key: string;
  /** JSON pointer of the value inside the config ("/retry/max_attempts"). */
  pointer: string;
  title: string;
  description?: string;
  required: boolean;
  default?: unknown;
  examples?: unknown[];
  /** Set on members of an "exactly one of" group: the group's label. */
  oneOfGroup?: string;
}

export interface ScalarField extends Base {
  kind: 'string' | 'integer' | 'number' | 'boolean';
  syntax?: Syntax;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
}
export interface EnumField extends Base {
  kind: 'enum';
  options: (string | number | boolean | null)[];
}
export interface ObjectField extends Base {
  kind: 'object';
  fields: Field[];
}
export interface MapField extends Base {
  kind: 'map';
  /** The field for each value (its key and pointer are placeholders). */
  value: Field;
  keyPattern?: string;
}
export interface ArrayField extends Base {
  kind: 'array';
  item: Field;
}
export interface ChoiceField extends Base {
  kind: 'choice';
  /** The shapes the value may take (oneOf), each with a label. */
  variants: { label: string; field: Field; matches: (v: unknown) => boolean }[];
}
export interface JsonField extends Base {
  kind: 'json';
}
/** A sub-graph (a for_each's body): drawn on the canvas, opened from the form. */
export interface GraphField extends Base {
  kind: 'graph';
}

/** A reference to another object of the project, marked in the schema with
 * `x-meshhook-ref: <kind>` (`workflow`: a workflow's id; `workflow_version`: a version of the
 * workflow a sibling `workflow` field names). The form offers a picker for the kinds it knows and
 * renders `plain` (the field as it would be without the keyword) for the others. */
export interface RefField extends Base {
  kind: 'ref';
  ref: string;
  /** For a dependent kind (`<kind>_version`): the pointer of the sibling field of `<kind>` it is
   * a version of, when the object has one. */
  of?: string;
  /** The sibling fields that depend on this one (their `of` is its pointer): a new choice here
   * resets them to their defaults. */
  dependents?: { key: string; default?: unknown }[];
  plain: Field;
}

type Schema = Record<string, unknown>;

export function escapeToken(t: string): string {
  return t.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The form of a config schema: the fields of its top-level object. */
export function schemaToFields(schema: Schema): Field[] {
  const root = fieldFor(schema, '', '', true);
  return root.kind === 'object' ? root.fields : [root];
}

function fieldFor(schema: Schema, key: string, pointer: string, required: boolean): Field {
  const base: Base = {
    key,
    pointer,
    title: typeof schema.title === 'string' ? schema.title : humanize(key),
    description: typeof schema.description === 'string' ? schema.description : undefined,
    required,
    default: schema.default,
    examples: Array.isArray(schema.examples) ? schema.examples : undefined
  };
  if (Array.isArray(schema.enum)) return { ...base, kind: 'enum', options: schema.enum as EnumField['options'] };
  const ref = schema['x-meshhook-ref'];
  if (typeof ref === 'string' && ref !== '') {
    const rest = { ...schema };
    delete rest['x-meshhook-ref'];
    return { ...base, kind: 'ref', ref, plain: fieldFor(rest, key, pointer, required) };
  }
  // A sub-graph (a for_each's body) is drawn and edited on a canvas of its own (graph/body.ts).
  if (schema['x-meshhook-widget'] === 'graph') return { ...base, kind: 'graph' };
  if (Array.isArray(schema.oneOf) && !isRequiredOnlyGroup(schema)) {
    const variants = (schema.oneOf as Schema[]).map((v, i) => {
      const merged = { ...v };
      const field = fieldFor(merged, key, pointer, required);
      return {
        label: typeof v.title === 'string' ? v.title : typeof v.type === 'string' ? humanize(v.type) : `Option ${i + 1}`,
        field,
        matches: (val: unknown) => matchesType(v, val)
      };
    });
    return { ...base, kind: 'choice', variants };
  }
  const type = schema.type;
  if (type === 'object' || (type === undefined && isObject(schema.properties))) {
    const props = isObject(schema.properties) ? (schema.properties as Record<string, Schema>) : {};
    const req = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    if (Object.keys(props).length === 0 && isObject(schema.additionalProperties)) {
      const names = isObject(schema.propertyNames) ? (schema.propertyNames as Schema) : {};
      return {
        ...base,
        kind: 'map',
        value: fieldFor(schema.additionalProperties as Schema, '', pointer + '/*', true),
        keyPattern: typeof names.pattern === 'string' ? names.pattern : undefined
      };
    }
    const groups = requiredOnlyGroups(schema);
    const fields = Object.entries(props).map(([k, s]) => {
      const f = fieldFor(s, k, pointer + '/' + escapeToken(k), req.has(k));
      if (groups.has(k)) f.oneOfGroup = groups.get(k);
      return f;
    });
    linkRefs(fields);
    return { ...base, kind: 'object', fields };
  }
  if (type === 'array' && isObject(schema.items))
    return { ...base, kind: 'array', item: fieldFor(schema.items as Schema, '', pointer + '/*', true) };
  if (type === 'string' || type === 'integer' || type === 'number' || type === 'boolean') {
    const syntax = schema['x-meshhook-syntax'];
    return {
      ...base,
      kind: type,
      syntax: syntax === 'jmespath' || syntax === 'template' || syntax === 'url_template' ? syntax : undefined,
      minimum: typeof schema.minimum === 'number' ? schema.minimum : undefined,
      maximum: typeof schema.maximum === 'number' ? schema.maximum : undefined,
      minLength: typeof schema.minLength === 'number' ? schema.minLength : undefined,
      pattern: typeof schema.pattern === 'string' ? schema.pattern : undefined
    };
  }
  return { ...base, kind: 'json' };
}

/** Points each dependent ref of an object (`workflow_version`) at its sibling of the kind it
 * depends on (`workflow`). */
function linkRefs(fields: Field[]) {
  for (const f of fields) {
    if (f.kind !== 'ref' || !f.ref.endsWith('_version')) continue;
    const kind = f.ref.slice(0, -'_version'.length);
    const owner = fields.find((g) => g.kind === 'ref' && g.ref === kind);
    if (owner?.kind !== 'ref') continue;
    f.of = owner.pointer;
    (owner.dependents ??= []).push({ key: f.key, default: f.default });
  }
}

/** A oneOf whose members only list `required` properties ("give exactly one of a, b, c"). */
function isRequiredOnlyGroup(schema: Schema): boolean {
  const list = schema.oneOf;
  return (
    Array.isArray(list) &&
    list.length > 0 &&
    list.every((v) => isObject(v) && Object.keys(v).every((k) => k === 'required'))
  );
}

function requiredOnlyGroups(schema: Schema): Map<string, string> {
  const out = new Map<string, string>();
  if (!isRequiredOnlyGroup(schema)) return out;
  const names = (schema.oneOf as Schema[]).flatMap((v) => v.required as string[]);
  const label = 'Give exactly one of: ' + names.join(', ');
  for (const n of names) out.set(n, label);
  return out;
}

function matchesType(schema: Schema, v: unknown): boolean {
  switch (schema.type) {
    case 'string':
      return typeof v === 'string';
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return false;
  }
}

/** A starting config for a new node: every default of the schema's required and defaulted
 * members that has one, nothing invented. */
export function defaultConfig(schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = isObject(schema.properties) ? (schema.properties as Record<string, Schema>) : {};
  for (const [k, s] of Object.entries(props)) {
    if (s.default !== undefined && !isObject(s.default)) out[k] = structuredClone(s.default);
  }
  return out;
}

/** The value at `pointer` in `obj` (undefined when absent). */
export function getAt(obj: unknown, pointer: string): unknown {
  let cur: unknown = obj;
  for (const t of tokens(pointer)) {
    if (!isObject(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[t];
  }
  return cur;
}

/** A copy of `obj` with `pointer` set to `value`; `undefined` removes the member, and objects
 * left empty by a removal are removed too, so clearing a field never leaves `{}` behind. */
export function setAt<T>(obj: T, pointer: string, value: unknown): T {
  const t = tokens(pointer);
  if (t.length === 0) return value as T;
  const root = structuredClone(obj ?? {}) as Record<string, unknown>;
  const path: Record<string, unknown>[] = [root];
  let cur = root;
  for (const k of t.slice(0, -1)) {
    if (!isObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
    path.push(cur);
  }
  const last = t[t.length - 1];
  if (value === undefined) {
    delete cur[last];
    for (let i = path.length - 1; i > 0; i--) {
      if (Object.keys(path[i]).length > 0) break;
      delete path[i - 1][t[i - 1]];
    }
  } else {
    cur[last] = value;
  }
  return root as T;
}

function tokens(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return pointer === '/' ? [''] : [];
  return pointer
    .slice(1)
    .split('/')
    .map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function humanize(s: string): string {
  if (!s) return '';
  const t = s.replace(/_/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
