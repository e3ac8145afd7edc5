import { describe, expect, it } from 'vitest';
import { canonical } from '$lib/graph/diff';
import { TRIGGER_ID } from '$lib/graph/trigger';
import type { Definition } from '$lib/graph/types';
import { FOR_EACH_EXAMPLE } from '$lib/graph/fixtures/foreach';
import { decorated, definitionOf, draftOf, enteredBody, importedDefinition, leftBody, restored, schedulesOf } from './draft';

// A newer server's top-level member rides along.
const def: Definition = { ...FOR_EACH_EXAMPLE, x_newer: { kept: true } };
const ids = (nodes: { id: string }[]) => nodes.map((n) => n.id);

describe('the draft on the canvas', () => {
  it('draws the trigger before the entry node and gives the definition back unchanged', () => {
    const d = draftOf(def, true, false);
    expect(ids(d.nodes)).toEqual([TRIGGER_ID, 'order', 'lines', 'summary']);
    expect(d.nodes[0].data).toMatchObject({ schedules: def.schedules, invalid: false });
    expect(d.edges.map((e) => e.id)).toEqual([`${TRIGGER_ID}->order`, 'order->lines', 'lines->summary']);
    expect(d.schedules).toEqual(def.schedules);
    expect(canonical(definitionOf(d))).toBe(canonical(def));
  });

  it('marks the trigger invalid, and lays out a graph without positions only when asked', () => {
    expect(draftOf(def, true, true).nodes[0].data.invalid).toBe(true);
    const flat: Definition = { nodes: [{ id: 'a', type: 'transform' }, { id: 'b', type: 'transform' }], edges: [{ from: 'a', to: 'b' }] };
    const at = (layout: boolean) => draftOf(flat, layout, false).nodes.find((n) => n.id === 'b')!.position;
    expect(at(false)).toEqual({ x: 0, y: 0 });
    expect(at(true).y).toBeGreaterThan(0);
  });

  it('leaves out schedules it does not have, and reads none from a definition without', () => {
    const { schedules: _, ...bare } = def;
    expect(schedulesOf(bare)).toEqual([]);
    expect('schedules' in definitionOf(draftOf(bare, false, false))).toBe(false);
  });
});

describe("a for_each's body", () => {
  it('opens on the canvas with the workflow set aside, and closes back with the loop selected', () => {
    const top = draftOf(def, false, false);
    expect(enteredBody(top, 'order')).toBeNull();
    const inBody = enteredBody(top, 'lines')!;
    expect(inBody.loop).toBe('lines');
    expect(ids(inBody.nodes)).toEqual(['reserve', 'fallback', 'ok']);
    expect(ids(inBody.outer!.nodes)).toEqual(['order', 'lines', 'summary']);
    expect(enteredBody(inBody, 'lines')).toBeNull();
    expect(canonical(definitionOf(inBody))).toBe(canonical(def));
    // An edit in the body is in the definition, and in the loop node once closed.
    inBody.nodes = inBody.nodes.map((n) => (n.id === 'ok' ? { ...n, data: { ...n.data, name: 'Done' } } : n));
    const body = (d: Definition) => (d.nodes[1].config!.body as Definition).nodes.find((n) => n.id === 'ok')!;
    expect(body(definitionOf(inBody)).name).toBe('Done');
    const back = leftBody(inBody, false)!;
    expect(back.loop).toBeNull();
    expect(back.outer).toBeNull();
    expect(ids(back.nodes)).toEqual([TRIGGER_ID, 'order', 'lines', 'summary']);
    expect(back.nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(['lines']);
    expect(body(definitionOf(back)).name).toBe('Done');
    expect(leftBody(back, false)).toBeNull();
  });

  it('has no trigger to draw', () => {
    const inBody = enteredBody(draftOf(def, false, false), 'lines')!;
    expect(decorated(inBody, true)).toEqual({ nodes: inBody.nodes, edges: inBody.edges });
  });
});

describe('undo and redo restore', () => {
  it('keeps the selection and the open body while its loop is there', () => {
    const r = restored(def, 'lines', new Set(['ok']), false);
    expect(r.loop).toBe('lines');
    expect(ids(r.nodes)).toEqual(['reserve', 'fallback', 'ok']);
    expect(r.nodes.map((n) => !!n.selected)).toEqual([false, false, true]);
    expect(canonical(definitionOf(r))).toBe(canonical(def));
  });

  it("goes back to the workflow's canvas when the loop is gone", () => {
    const without: Definition = { nodes: [def.nodes[0]], edges: [] };
    const r = restored(without, 'lines', new Set(['order']), true);
    expect(r.loop).toBeNull();
    expect(ids(r.nodes)).toEqual([TRIGGER_ID, 'order']);
    expect(r.nodes[0].data.invalid).toBe(true);
    expect(r.nodes[1].selected).toBe(true);
  });
});

describe('import', () => {
  it('takes an export or a bare definition, and says what else is not one', () => {
    expect(importedDefinition(JSON.stringify({ meshhook_export: 1, definition: def }))).toEqual(def);
    expect(importedDefinition(JSON.stringify(def))).toEqual(def);
    expect(() => importedDefinition('{"hello": 1}')).toThrow(/not a MeshHook export/);
    expect(() => importedDefinition('{"meshhook_export": 1}')).toThrow(/not a MeshHook export/);
    expect(() => importedDefinition('{nope')).toThrow(SyntaxError);
  });
});
