// The workflow definition as the API stores it (docs/workflows.md), and the canvas's view of it.

/** A branch's `true`/`false`, or `error`: the edge a node's failure takes (docs/workflows.md). */
export type Port = 'true' | 'false' | 'error';

export interface Position {
  x: number;
  y: number;
}

export interface DefNode {
  id: string;
  type: string;
  name?: string;
  config?: Record<string, unknown>;
  position?: Position;
  /** Members this editor does not know are kept as they are. */
  [other: string]: unknown;
}

export interface DefEdge {
  from: string;
  to: string;
  port?: Port;
  [other: string]: unknown;
}

export interface Definition {
  nodes: DefNode[];
  edges: DefEdge[];
  [other: string]: unknown;
}

/** What a canvas node carries: the definition node minus its id and position. */
export interface NodeData {
  [key: string]: unknown;
  nodeType: string;
  name: string;
  config: Record<string, unknown>;
  /** Unknown members of the definition node, given back on export. */
  extra: Record<string, unknown>;
  /** Unknown top-level members of the definition the node was loaded from (one object shared
   * by every node of the load: convert.ts). */
  definitionExtra?: Record<string, unknown>;
}

/** The shape @xyflow/svelte takes for a node (the members this app uses). */
export interface FlowNode {
  id: string;
  type: string;
  position: Position;
  data: NodeData;
  selected?: boolean;
}

/** The shape @xyflow/svelte takes for an edge. */
export interface FlowEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
  label?: string;
  /** `mh-error-edge` for an edge out of a node's error handle (app.css draws it apart). */
  class?: string;
  selected?: boolean;
}

/** One error of POST …/validate or of a save's `validation`. */
export interface ValidationError {
  path: string;
  code: string;
  message: string;
  offset?: number;
  node?: string;
}
