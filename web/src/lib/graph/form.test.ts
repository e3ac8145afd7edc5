import { describe, expect, it } from 'vitest';
import nodeTypes from './fixtures/node-types.json';
import { defaultConfig, getAt, schemaToFields, setAt } from './form';
import type { ChoiceField, EnumField, Field, MapField, ObjectField, RefField, ScalarField } from './form';

const schemaOf = (t: string) => nodeTypes.types.find((x) => x.type === t)!.config_schema as Record<string, unknown>;
const byKey = (fields: Field[], k: string) => fields.find((f) => f.key === k)!;

describe('schema → form', () => {
  it('transform: one required JMESPath field with help and an example', () => {
    const [f] = schemaToFields(schemaOf('transform')) as ScalarField[];
    expect(f).toMatchObject({ key: 'expression', kind: 'string', syntax: 'jmespath', required: true, pointer: '/expression', minLength: 1 });
    expect(f.description).toMatch(/JMESPath/);
    expect(f.examples?.length).toBeGreaterThan(0);
  });

  it('terminate: an enum with its default', () => {
    const f = byKey(schemaToFields(schemaOf('terminate')), 'status') as EnumField;
    expect(f.kind).toBe('enum');
    expect(f.options).toEqual(['succeeded', 'failed']);
    expect(f.default).toBe('succeeded');
  });

  it('http_call: maps, a oneOf body, a nested object with defaults and bounds', () => {
    const fields = schemaToFields(schemaOf('http_call'));
    expect(byKey(fields, 'url')).toMatchObject({ kind: 'string', syntax: 'url_template', required: true });
    expect((byKey(fields, 'method') as EnumField).options).toContain('PATCH');
    const headers = byKey(fields, 'headers') as MapField;
    expect(headers.kind).toBe('map');
    expect(headers.value).toMatchObject({ kind: 'string', syntax: 'template' });
    expect(headers.keyPattern).toBeDefined();
    const body = byKey(fields, 'body') as ChoiceField;
    expect(body.kind).toBe('choice');
    expect(body.variants.map((v) => v.label)).toEqual(['Template', 'JSON from JMESPath']);
    expect(body.variants[0].matches('text')).toBe(true);
    expect(body.variants[1].matches({ expression: 'a' })).toBe(true);
    const inner = body.variants[1].field as ObjectField;
    expect(inner.fields[0]).toMatchObject({ key: 'expression', syntax: 'jmespath', pointer: '/body/expression' });
    const retry = byKey(fields, 'retry') as ObjectField;
    expect(retry.kind).toBe('object');
    expect(byKey(retry.fields, 'max_attempts')).toMatchObject({ kind: 'integer', minimum: 1, maximum: 20, default: 3, pointer: '/retry/max_attempts' });
    expect(byKey(fields, 'expect_json')).toMatchObject({ kind: 'boolean', default: false });
  });

  it('delay: "exactly one of" members are grouped, not turned into a choice', () => {
    const fields = schemaToFields(schemaOf('delay'));
    expect(fields.map((f) => f.key)).toEqual(['duration_ms', 'duration', 'until']);
    for (const f of fields) expect(f.oneOfGroup).toMatch(/exactly one of: duration_ms, duration, until/);
    expect(byKey(fields, 'until')).toMatchObject({ syntax: 'jmespath', required: false });
  });

  it('for_each: the body sub-graph is a canvas of its own, the rest ordinary fields', () => {
    const fields = schemaToFields(schemaOf('for_each'));
    expect(fields.map((f) => f.key)).toEqual(['items', 'concurrency', 'max_items', 'output', 'body']);
    expect(byKey(fields, 'items')).toMatchObject({ kind: 'string', syntax: 'jmespath', required: true });
    expect(byKey(fields, 'concurrency')).toMatchObject({ kind: 'integer', minimum: 1, maximum: 100, default: 10 });
    expect(byKey(fields, 'body')).toMatchObject({ kind: 'graph', required: true, pointer: '/body' });
  });

  it('call_workflow: the workflow and its version are references picked from lists, linked together', () => {
    const fields = schemaToFields(schemaOf('call_workflow'));
    expect(fields.map((f) => f.key)).toEqual(['workflow_id', 'version', 'input']);
    const wf = byKey(fields, 'workflow_id') as RefField;
    expect(wf).toMatchObject({ kind: 'ref', ref: 'workflow', required: true, pointer: '/workflow_id', title: 'Workflow' });
    expect(wf.of).toBeUndefined();
    // Without a picker for its kind, the field is what it would be without the keyword.
    expect(wf.plain).toMatchObject({ kind: 'string', pointer: '/workflow_id' });
    const version = byKey(fields, 'version') as RefField;
    expect(version).toMatchObject({ kind: 'ref', ref: 'workflow_version', of: '/workflow_id', default: 'latest', required: false });
    expect(version.plain.kind).toBe('choice');
    expect(wf.dependents).toEqual([{ key: 'version', default: 'latest' }]);
    expect((version.plain as ChoiceField).variants.map((v) => v.label)).toEqual(['Pinned version', 'Latest published']);
    expect(byKey(fields, 'input')).toMatchObject({ kind: 'string', syntax: 'jmespath', default: 'trigger.body' });
    expect(defaultConfig(schemaOf('call_workflow'))).toEqual({ version: 'latest', input: 'trigger.body' });
  });

  it('a reference of any kind is recognised; a dependent one without its owner stays unlinked', () => {
    const [secret, version] = schemaToFields({
      type: 'object',
      properties: {
        secret: { type: 'string', 'x-meshhook-ref': 'secret' },
        version: { type: 'integer', 'x-meshhook-ref': 'workflow_version' }
      }
    }) as RefField[];
    expect(secret).toMatchObject({ kind: 'ref', ref: 'secret', plain: { kind: 'string' } });
    expect(version).toMatchObject({ kind: 'ref', ref: 'workflow_version', plain: { kind: 'integer' } });
    expect(version.of).toBeUndefined();
  });

  it('falls back to raw JSON for what it cannot render', () => {
    const [f] = schemaToFields({ type: 'object', properties: { x: {} } });
    expect(f.kind).toBe('json');
    const [arr] = schemaToFields({ type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } } } });
    expect(arr).toMatchObject({ kind: 'array', item: { kind: 'string' } });
  });
});

describe('config values', () => {
  it('defaults come from the schema, nothing invented', () => {
    expect(defaultConfig(schemaOf('terminate'))).toEqual({ status: 'succeeded' });
    expect(defaultConfig(schemaOf('http_call'))).toEqual({ method: 'POST', timeout_ms: 30000, expect_json: false });
    expect(defaultConfig(schemaOf('transform'))).toEqual({});
  });
  it('set and clear nested members without leaving empty objects', () => {
    let c: Record<string, unknown> = { url: 'u' };
    c = setAt(c, '/retry/max_attempts', 5);
    expect(getAt(c, '/retry/max_attempts')).toBe(5);
    c = setAt(c, '/headers/X~1Y', 'v');
    expect(c.headers).toEqual({ 'X/Y': 'v' });
    c = setAt(c, '/retry/max_attempts', undefined);
    expect(c).toEqual({ url: 'u', headers: { 'X/Y': 'v' } });
  });
});
