// The project of the current page (/p/:pid/...) and what the user's role there allows. The
// server decides every write; this only hides or disables controls that would be refused.
import { page } from '$app/state';
import type { ProjectRef, Role } from '$lib/api/types';
import { atLeast, session } from './session.svelte';

export function currentProject(): ProjectRef | null {
  return session.project(page.params.pid);
}

/** Whether the user's role in the current project ranks at least `min`. */
export function can(min: Role): boolean {
  return atLeast(currentProject()?.role, min);
}

/** The project API path: projectPath('workflows') -> /api/projects/<pid>/workflows. */
export function projectApi(rest = ''): string {
  const pid = encodeURIComponent(page.params.pid ?? '');
  return rest ? `/api/projects/${pid}/${rest}` : `/api/projects/${pid}`;
}
