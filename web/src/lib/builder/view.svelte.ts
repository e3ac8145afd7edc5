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
  /** Opens the body of a for_each on the canvas (set by the builder). */
  openBody: (id: string) => void = () => {};
  /** Whether the schedules have validation errors (the trigger node says so). */
  triggerInvalid = $state(false);

  reset(): void {
    this.errors = {};
    this.preview = {};
    this.diff = {};
    this.triggerInvalid = false;
  }
}

export const view = new BuilderView();
