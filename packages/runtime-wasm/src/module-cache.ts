// Compiled metered modules, kept in memory so that loading a known module again skips the rewriter and the compiler.

/** Compiled, metered modules by content hash and metering parameters. */
export class MeteredModuleCache {
  private readonly entries = new Map<string, Promise<WebAssembly.Module>>();
  /** Loads that found their module in the cache. */
  hits = 0;
  /** Loads that had to meter and compile. */
  misses = 0;

  constructor(private readonly capacity = 256) {}

  /** The compiled module for `key`, metering and compiling with `build` on a miss; says whether it was a hit. */
  async get(key: string, build: () => Promise<WebAssembly.Module>): Promise<{ module: WebAssembly.Module; hit: boolean }> {
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.hits++;
      // Refresh its place so the least recently used entry is evicted first.
      this.entries.delete(key);
      this.entries.set(key, found);
      return { module: await found, hit: true };
    }
    this.misses++;
    const pending = build();
    this.entries.set(key, pending);
    pending.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return { module: await pending, hit: false };
  }

  /** Number of cached modules. */
  get size(): number {
    return this.entries.size;
  }
}
