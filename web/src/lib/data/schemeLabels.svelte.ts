// A scheme's name for people (GET /api/schemes) where a page only shows it: the scheme's own
// name until the one shared load answers, its label after.
import { loadSchemes } from './schemes';

let labels = $state<Record<string, string>>({});
let started = false;

export function schemeLabel(name: string): string {
  if (!started) {
    started = true;
    loadSchemes().then(
      (list) => (labels = Object.fromEntries(list.map((s) => [s.name, s.label]))),
      () => (started = false)
    );
  }
  return labels[name] ?? name;
}
