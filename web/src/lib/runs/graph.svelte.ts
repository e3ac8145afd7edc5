// What the run console's canvas nodes read: the folded step states and the selected node. One
// run page is open at a time, so one shared object serves it (as builder/view.svelte.ts does).
import type { StepView } from './fold';

class RunGraphView {
  steps = $state<Record<string, StepView>>({});
  selected = $state<string | null>(null);
}

export const runGraph = new RunGraphView();
