import { describe, expect, it } from 'vitest';
import { placeErrors } from './placement';
import type { Definition } from './types';

const def: Definition = {
  nodes: [
    { id: 'order', type: 'transform', config: { expression: 'foo.[' } },
    {
      id: 'lines',
      type: 'for_each',
      config: {
        items: 'steps.order.output',
        body: {
          nodes: [
            { id: 'reserve', type: 'http_call', config: { url: '' } },
            { id: 'note', type: 'transform', config: { expression: '@' } }
          ],
          edges: [{ from: 'reserve', to: 'ghost' }]
        }
      }
    }
  ],
  edges: [{ from: 'order', to: 'lines' }],
  schedules: [{ cron: 'every day' }]
};

const errors = [
  { path: '/nodes/0/config/expression', code: 'jmespath_syntax', message: 'bad' },
  { path: '/nodes/1/config/body/nodes/0/config/url', code: 'required', message: 'a URL' },
  { path: '/nodes/1/config/body/edges/0/to', code: 'dangling_edge', message: 'no node ghost' },
  { path: '/nodes/1/config/body/nodes', code: 'no_entry', message: 'the body has no entry' },
  { path: '/edges/3', code: 'dangling_edge', message: 'an edge' },
  { path: '/schedules/0/cron', code: 'invalid_cron', message: 'not a cron' }
];

describe('validation errors placed on the builder', () => {
  it("marks the workflow's nodes and the body's by their own ids", () => {
    const p = placeErrors(errors, def, null);
    expect(p.byNode.order.map((e) => e.field)).toEqual(['/expression']);
    expect(p.byNode.reserve.map((e) => [e.field, e.path])).toEqual([['/url', '/nodes/0/config/url']]);
    expect(p.byNode.note).toBeUndefined();
  });

  it("lists the workflow's own problems, or the open body's", () => {
    expect(placeErrors(errors, def, null).general.map((e) => e.code)).toEqual(['invalid_cron', 'dangling_edge']);
    expect(placeErrors(errors, def, 'lines').general.map((e) => e.code)).toEqual(['no_entry', 'dangling_edge']);
  });

  it('marks the trigger when a schedule has an error', () => {
    expect(placeErrors(errors, def, null).triggerInvalid).toBe(true);
    expect(placeErrors(errors.slice(0, 5), def, null).triggerInvalid).toBe(false);
    expect(placeErrors([], def, null)).toEqual({ byNode: {}, general: [], triggerInvalid: false });
  });
});
