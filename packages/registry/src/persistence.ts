import { ErrorCode, HomecoreError, toHomecoreError, type Clock, type ConfigEntry, type PluginId } from '@homecore/core-traits';
import type { Bookkeeping } from './bookkeeping.js';
import { storedEntryOf, type ConfigEntryStore, type StoredConfigEntry, type StoredQuarantine } from './entry-store.js';
import { isoTime, messageOf } from './util.js';

/** HA's delay for config entry saves (`async_delay_save(..., 1)` in config_entries.py), in ms. */
export const ENTRY_SAVE_DELAY_MS = 1000;

/**
 * The registry's side of a ConfigEntryStore: what is stored (entries of plugins not loaded now
 * included), read once on first use, and a delayed save of the whole snapshot like HA's
 * `Store.async_delay_save` (changes within the delay are written together), flushed on demand.
 * Without a store every call is a no-op and nothing is remembered.
 */
export class EntryPersistence {
  private loaded: Promise<void> | undefined;
  private failure: HomecoreError | undefined;
  /** Every stored entry by id, in creation order. */
  private readonly entries = new Map<string, StoredConfigEntry>();
  private readonly quarantined = new Map<string, StoredQuarantine>();
  private timer: unknown = undefined;
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ConfigEntryStore | undefined,
    private readonly clock: Clock,
    private readonly delayMs: number,
    private readonly book: Bookkeeping,
  ) {}

  /** True when the registry was given a store. */
  get enabled(): boolean {
    return this.store !== undefined;
  }

  /** Reads the store once; rejects (every time) with HC_ERR_DATA_STORE when it cannot be read. */
  async ready(plugin?: PluginId): Promise<void> {
    if (this.store === undefined) return;
    const store = this.store;
    this.loaded ??= store.load().then(
      (snapshot) => {
        for (const entry of snapshot.entries) this.entries.set(entry.entry_id, entry);
        for (const q of snapshot.quarantined) this.quarantined.set(q.entry_id, q);
      },
      (error: unknown) => {
        this.failure = toHomecoreError(error, ErrorCode.DATA_STORE);
      },
    );
    await this.loaded;
    if (this.failure !== undefined) {
      throw new HomecoreError(
        ErrorCode.DATA_STORE,
        `the stored config entries cannot be used, so no plugin is set up with them: ${this.failure.message.replace(/^\[[^\]]*\] /, '')}`,
        { ...(plugin !== undefined ? { plugin } : {}), cause: this.failure, ...(this.failure.details !== undefined ? { details: this.failure.details } : {}) },
      );
    }
  }

  /** The stored entries of `domain`, oldest first. */
  entriesOf(domain: string): StoredConfigEntry[] {
    return [...this.entries.values()].filter((e) => e.domain === domain);
  }

  /** Every stored entry, oldest first. */
  all(): StoredConfigEntry[] {
    return [...this.entries.values()];
  }

  /** Records an entry's stored fields (state changes alone change nothing) and schedules a save. */
  put(entry: ConfigEntry): void {
    if (this.store === undefined || this.failure !== undefined) return;
    const before = this.entries.get(entry.entry_id);
    const next = storedEntryOf(entry, before);
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(next)) return;
    this.entries.set(entry.entry_id, next);
    this.schedule();
  }

  /** Forgets an entry (and its quarantine) and schedules a save. */
  remove(entryId: string): void {
    if (this.store === undefined) return;
    const had = this.entries.delete(entryId);
    if (this.quarantined.delete(entryId) || had) this.schedule();
  }

  /** The stored quarantine of an entry, if any. */
  quarantineOf(entryId: string): StoredQuarantine | undefined {
    return this.quarantined.get(entryId);
  }

  /** Remembers that an entry's plugin was quarantined. */
  quarantine(entryId: string, domain: string, reason: string): void {
    if (this.store === undefined || this.failure !== undefined) return;
    const before = this.quarantined.get(entryId);
    if (before !== undefined && before.reason === reason) return;
    this.quarantined.set(entryId, { entry_id: entryId, domain, reason, quarantined_at: isoTime(this.clock.now()) });
    this.schedule();
  }

  /** Forgets an entry's quarantine; true when there was one. */
  clearQuarantine(entryId: string): boolean {
    if (!this.quarantined.delete(entryId)) return false;
    this.schedule();
    return true;
  }

  /** Entry ids of `domain` with a stored quarantine. */
  quarantinedOf(domain: string): string[] {
    return [...this.quarantined.values()].filter((q) => q.domain === domain).map((q) => q.entry_id);
  }

  private schedule(): void {
    this.dirty = true;
    if (this.timer !== undefined) return;
    try {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.flush().catch(() => undefined); // reported as store_failed activity
      }, this.delayMs);
    } catch {
      this.timer = undefined;
      this.flush().catch(() => undefined); // no timer: save now
    }
  }

  /**
   * Writes what changed since the last save now (cancelling the delayed save), after any save in
   * progress; resolves once it is stored. A failed save is reported as `store_failed` activity,
   * kept dirty (the next change or flush tries again) and rejects.
   */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const run = async (): Promise<void> => {
      if (this.store === undefined || !this.dirty) return;
      this.dirty = false;
      const snapshot = { entries: [...this.entries.values()], quarantined: [...this.quarantined.values()] };
      try {
        await this.store.save(snapshot);
      } catch (failure) {
        this.dirty = true;
        const error = toHomecoreError(failure, ErrorCode.DATA_STORE);
        this.book.emit({ type: 'store_failed', plugin: '', error, message: `config entries could not be saved: ${messageOf(failure)}` });
        throw error;
      }
    };
    const result = this.saving.then(run, run);
    this.saving = result.catch(() => undefined);
    return result;
  }
}
