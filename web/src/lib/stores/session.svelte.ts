// The signed-in user, their projects and the CSRF token, loaded once from GET /api/auth/me and
// refreshed after changes (a new project, leaving one). `expired` is set when any request meets
// a 401: the root layout then sends the user to /login?next=<where they were>.
import { api, setCsrfToken } from '$lib/api/client';
import type { ApiError } from '$lib/api/errors';
import type { Me, ProjectRef, Role, User } from '$lib/api/types';
import { ROLES } from '$lib/api/types';

class Session {
  user = $state<User | null>(null);
  projects = $state<ProjectRef[]>([]);
  /** The first load has finished (successfully or not). */
  loaded = $state(false);
  /** The last load failed for a reason other than being signed out (server unreachable...). */
  error = $state<ApiError | null>(null);
  /** A request found the session gone; cleared by the next sign-in. */
  expired = $state(false);

  get signedIn(): boolean {
    return this.user !== null;
  }

  apply(me: Me): void {
    this.user = me.user;
    this.projects = me.projects;
    setCsrfToken(me.csrf_token ?? null);
    this.expired = false;
    this.error = null;
  }

  async load(): Promise<void> {
    try {
      this.apply(await api.get<Me>('/api/auth/me', { quiet401: true }));
    } catch (e) {
      const err = e as ApiError;
      this.user = null;
      this.projects = [];
      if (err.status !== 401) this.error = err;
    } finally {
      this.loaded = true;
    }
  }

  async signIn(email: string, password: string): Promise<void> {
    const r = await api.post<{ user: User; csrf_token: string }>(
      '/api/auth/login',
      { email, password },
      { quiet401: true }
    );
    setCsrfToken(r.csrf_token);
    await this.load();
  }

  async signOut(): Promise<void> {
    try {
      await api.post('/api/auth/logout', undefined, { quiet401: true });
    } finally {
      this.clear();
    }
  }

  /** Forgets the user locally (after sign-out or when the session expired). */
  clear(): void {
    this.user = null;
    this.projects = [];
    setCsrfToken(null);
  }

  project(id: string | undefined): ProjectRef | null {
    return this.projects.find((p) => p.id === id) ?? null;
  }
}

export const session = new Session();

/** True when `role` ranks at least `min` (viewer < editor < admin < owner). */
export function atLeast(role: Role | null | undefined, min: Role): boolean {
  if (!role) return false;
  return ROLES.indexOf(role) >= ROLES.indexOf(min);
}
