// What the canvas shows on top of the graph, shared by the page and the node component: the
// validation errors of each node, the preview's result per step, the version diff, and which
// node is being edited. Reset when the page changes workflow.
import type { FieldError } from '$lib/graph/errors';
import type { NodeChange } from '$lib/graph/diff';
import type { PreviewStep } from './api';

class BuilderView {
  errors = $state<Record<string, FieldError[]>>({});
  preview = $state<Record<string, PreviewStep>>({});
  diff = $state<Record<string, NodeChange>>({});
  readOnly = $state(false);

  reset(): void {
    this.errors = {};
    this.preview = {};
    this.diff = {};
  }
}

export const view = new BuilderView();
