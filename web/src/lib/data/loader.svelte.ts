// What a page shows while it fetches: the data, whether a load is under way, and its error (an
// ApiError for ErrorBox). Only the latest load counts: an older answer arriving late (the user
// switched project meanwhile) is dropped.
export class Loader<T> {
  data = $state<T | null>(null);
  loading = $state(true);
  error = $state<unknown>(null);
  #seq = 0;

  constructor(private readonly fetcher: () => Promise<T>) {}

  /** Fetches again. Reactive values the fetcher reads before its first await are tracked by an
   * enclosing $effect, so `$effect(() => loader.load())` reloads when they change. */
  async load(): Promise<void> {
    const mine = ++this.#seq;
    this.loading = true;
    this.error = null;
    try {
      const d = await this.fetcher();
      if (mine === this.#seq) this.data = d;
    } catch (e) {
      if (mine === this.#seq) this.error = e;
    } finally {
      if (mine === this.#seq) this.loading = false;
    }
  }
}

/** A form's submission: `busy` while `act` runs, `error` what it threw (for an ErrorBox beside
 * the form). `submit` is the form's onsubmit. */
export class Submission {
  busy = $state(false);
  error = $state<unknown>(null);

  constructor(private readonly act: () => Promise<void>) {}

  submit = async (ev?: Event): Promise<void> => {
    ev?.preventDefault();
    this.busy = true;
    this.error = null;
    try {
      await this.act();
    } catch (e) {
      this.error = e;
    } finally {
      this.busy = false;
    }
  };
}
