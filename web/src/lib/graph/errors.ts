// Server validation errors (JSON pointers into the definition) mapped onto the canvas: which
// node or edge each one concerns and, for node errors, which config field, so the builder can
// mark the node and underline the field.

import type { Definition, ValidationError } from './types';

export interface FieldError extends ValidationError {
  /** JSON pointer inside the node's config ("/expression", "/headers/Authorization"), or ""
   * for the node itself (its id, type, position…). */
  field: string;
}

export interface MappedErrors {
  byNode: Map<string, FieldError[]>;
  byEdge: Map<number, ValidationError[]>;
  /** Errors of the whole workflow (no entry node, a cycle without a node, …). */
  general: ValidationError[];
}

/** The tokens of a JSON pointer ("/a/b~1c" → ["a", "b/c"]). */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return [pointer];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function formatPointer(tokens: string[]): string {
  return tokens.map((t) => '/' + t.replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

export function mapErrors(errors: ValidationError[], def: Definition): MappedErrors {
  const out: MappedErrors = { byNode: new Map(), byEdge: new Map(), general: [] };
  for (const err of errors ?? []) {
    const t = parsePointer(err.path ?? '');
    if (t[0] === 'nodes' && t.length >= 2 && /^\d+$/.test(t[1])) {
      const node = def.nodes?.[Number(t[1])];
      const id = node ? String(node.id) : err.node;
      if (id !== undefined) {
        const field = t[2] === 'config' ? formatPointer(t.slice(3)) : '';
        const list = out.byNode.get(id) ?? [];
        list.push({ ...err, field });
        out.byNode.set(id, list);
        continue;
      }
    }
    if (t[0] === 'edges' && t.length >= 2 && /^\d+$/.test(t[1])) {
      const i = Number(t[1]);
      const list = out.byEdge.get(i) ?? [];
      list.push(err);
      out.byEdge.set(i, list);
      continue;
    }
    if (err.node !== undefined && def.nodes?.some((n) => n.id === err.node)) {
      const list = out.byNode.get(err.node) ?? [];
      list.push({ ...err, field: '' });
      out.byNode.set(err.node, list);
      continue;
    }
    out.general.push(err);
  }
  return out;
}

/** A byte offset into UTF-8 text (what the server reports) as an index into the JS string. */
export function byteOffsetToIndex(text: string, byteOffset: number): number {
  let bytes = 0;
  let i = 0;
  for (const ch of text) {
    if (bytes >= byteOffset) return i;
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += ch.length;
  }
  return text.length;
}
