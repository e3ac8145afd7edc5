// Short-lived notices ("Token revoked") and errors that have no better place to show. Errors
// carry the server's request id so it can be quoted.
import { toApiError } from '$lib/api/errors';

export interface Toast {
  id: number;
  kind: 'ok' | 'error' | 'info';
  message: string;
  requestId?: string | null;
}

let next = 1;

class Toasts {
  items = $state<Toast[]>([]);

  push(kind: Toast['kind'], message: string, requestId?: string | null, ttlMs = 5000): void {
    const id = next++;
    this.items.push({ id, kind, message, requestId });
    if (ttlMs > 0) setTimeout(() => this.dismiss(id), ttlMs);
  }

  ok(message: string): void {
    this.push('ok', message);
  }

  error(e: unknown): void {
    const err = toApiError(e);
    this.push('error', err.message, err.requestId, 10000);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }
}

export const toasts = new Toasts();
