// What changed between two definitions (a published version and the draft), node by node and
// edge by edge, for the version history's visual diff on the canvas. Positions are compared
// apart: moving a node is not a change of behaviour.

import type { DefNode, Definition } from './types';
import { edgeId } from './convert';

export type NodeChange = 'added' | 'removed' | 'changed' | 'moved' | 'same';

export interface DefinitionDiff {
  nodes: Map<string, NodeChange>;
  edgesAdded: string[];
  edgesRemoved: string[];
  /** Whether anything but positions differs. */
  hasChanges: boolean;
}

/** Compares `base` (such as version N) with `next` (such as the draft). */
export function diffDefinitions(base: Definition, next: Definition): DefinitionDiff {
  const before = new Map((base?.nodes ?? []).map((n) => [n.id, n]));
  const after = new Map((next?.nodes ?? []).map((n) => [n.id, n]));
  const nodes = new Map<string, NodeChange>();
  for (const [id, n] of after) {
    const old = before.get(id);
    if (!old) nodes.set(id, 'added');
    else if (!sameBehaviour(old, n)) nodes.set(id, 'changed');
    else if (!samePosition(old, n)) nodes.set(id, 'moved');
    else nodes.set(id, 'same');
  }
  for (const id of before.keys()) if (!after.has(id)) nodes.set(id, 'removed');
  const e0 = new Set((base?.edges ?? []).map((e) => edgeId(e.from, e.to, e.port)));
  const e1 = new Set((next?.edges ?? []).map((e) => edgeId(e.from, e.to, e.port)));
  const edgesAdded = [...e1].filter((e) => !e0.has(e));
  const edgesRemoved = [...e0].filter((e) => !e1.has(e));
  const hasChanges =
    edgesAdded.length > 0 ||
    edgesRemoved.length > 0 ||
    [...nodes.values()].some((c) => c === 'added' || c === 'removed' || c === 'changed');
  return { nodes, edgesAdded, edgesRemoved, hasChanges };
}

function sameBehaviour(a: DefNode, b: DefNode): boolean {
  const strip = (n: DefNode) => {
    const { position: _p, ...rest } = n;
    return canonical(rest);
  };
  return strip(a) === strip(b);
}

function samePosition(a: DefNode, b: DefNode): boolean {
  return (a.position?.x ?? 0) === (b.position?.x ?? 0) && (a.position?.y ?? 0) === (b.position?.y ?? 0);
}

/** JSON with sorted keys, so key order (not kept by jsonb) never counts as a change. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return (
      '{' +
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => JSON.stringify(k) + ':' + canonical(o[k]))
        .join(',') +
      '}'
    );
  }
  return JSON.stringify(v);
}
