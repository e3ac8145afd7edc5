// Where the builder shows the server's validation errors: on the nodes they name (the workflow's
// and those of every for_each body, whose ids differ from the workflow's), in the list of the
// workflow's problems, or on the trigger (the schedules). Pure: errors and the definition they
// were computed on in, the placement out.

import { bodyErrors, bodyOf, LOOP_TYPE } from './body';
import { mapErrors, type FieldError } from './errors';
import type { Definition, FlowNode, ValidationError } from './types';

export interface Placement {
  /** The errors of each node, by node id. */
  byNode: Record<string, FieldError[]>;
  /** The errors listed under the form: the workflow's own and its edges'; with a body open
   * (`loop`), the body's instead. */
  general: ValidationError[];
  /** Whether a schedule has an error (the trigger node is marked). */
  triggerInvalid: boolean;
}

export function placeErrors(errors: ValidationError[], def: Definition, loop: string | null): Placement {
  const m = mapErrors(errors, def);
  const byNode = Object.fromEntries(m.byNode);
  let general = [...m.general, ...[...m.byEdge.values()].flat()];
  def.nodes.forEach((n, i) => {
    if (n.type !== LOOP_TYPE) return;
    const inner = bodyErrors(errors, i);
    if (inner.length === 0) return;
    const bm = mapErrors(inner, bodyOf({ data: { config: n.config ?? {} } } as FlowNode));
    for (const [id, list] of bm.byNode) byNode[id] = list;
    if (n.id === loop) general = [...bm.general, ...[...bm.byEdge.values()].flat()];
  });
  return { byNode, general, triggerInvalid: errors.some((e) => e.path.startsWith('/schedules')) };
}
