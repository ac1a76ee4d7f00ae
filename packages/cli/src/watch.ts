import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { ErrorCode, HomecoreError, toHomecoreError } from '@homecore/core-traits';
import type { DiscoveredPlugin, LoadItem, PluginRegistry } from '@homecore/registry';
import type { RunOutput } from './output.js';

/** What `loadAll` takes for a discovered folder. */
export function loadItem(p: DiscoveredPlugin): LoadItem {
  return { manifest: p.manifest, code: p.code, baseDir: p.dir, ...(p.config ? { config: p.config } : {}) };
}

/** What the folder watcher works with. */
export interface FolderWatcherOptions {
  /** The plugins directory (its real path). */
  root: string;
  registry: PluginRegistry;
  out: RunOutput;
  /** Quiet time after the last change of a burst before acting on it. */
  debounceMs: number;
  /** The folders loaded at start-up. */
  known: readonly DiscoveredPlugin[];
}

/**
 * Hot reload for `homecore serve --watch`: watches the plugins directory (chokidar: Node 20 has no
 * recursive fs.watch on Linux), collects the plugin folders a burst of changes touched, and once
 * the burst is quiet acts on each folder once: a loaded plugin is reloaded from disk through the
 * full load gate (a broken edit is refused and the running version stays), a new folder is
 * loaded, a removed folder's plugin is unloaded (its dependents too; they load again with it).
 */
export class FolderWatcher {
  private watcher: FSWatcher | undefined;
  private readonly dirty = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private work: Promise<void> = Promise.resolve();
  private closed = false;
  /** Plugin id by the folder it was loaded from (real path). */
  private readonly byFolder = new Map<string, string>();
  /** Plugins unloaded because a dependency's folder went away: loaded again when they can be. */
  private readonly waiting = new Set<string>();

  constructor(private readonly options: FolderWatcherOptions) {
    for (const p of options.known) this.byFolder.set(p.dir, p.manifest.domain);
  }

  /** Starts watching; resolves once the initial scan is done, so later changes are seen. */
  async start(): Promise<void> {
    const { root } = this.options;
    const watcher = watch(root, {
      ignoreInitial: true,
      // Dot files (editor swap files, .git) and installed dependencies are no plugin's own files.
      ignored: (path: string) => {
        const rel = relative(root, path);
        return rel !== '' && rel.split(sep).some((part) => part.startsWith('.') || part === 'node_modules' || part.endsWith('~'));
      },
    });
    this.watcher = watcher;
    watcher.on('all', (_event, path) => this.changed(path));
    watcher.on('error', (error) => this.options.out.note(`warning: watching ${root} failed: ${(error as Error).message}`));
    await new Promise<void>((ready) => watcher.once('ready', () => ready()));
  }

  /** Stops watching and waits for the work already started; pending changes are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    await this.watcher?.close();
    await this.work;
  }

  /** Resolves once every change seen so far has been acted on. */
  async settled(): Promise<void> {
    while (this.timer !== undefined || this.dirty.size > 0) {
      await new Promise((r) => setTimeout(r, 50));
      await this.work;
    }
    await this.work;
  }

  private changed(path: string): void {
    if (this.closed) return;
    const rel = relative(this.options.root, path);
    if (rel === '' || rel.startsWith('..')) return;
    const folder = rel.split(sep)[0]!;
    this.dirty.add(folder);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const folders = [...this.dirty].sort();
      this.dirty.clear();
      this.work = this.work.then(() => this.apply(folders)).catch((error: unknown) => this.options.out.error(toHomecoreError(error, ErrorCode.INTERNAL), 'watch'));
    }, this.options.debounceMs);
  }

  /** Acts on one burst: every touched folder once. */
  private async apply(folders: readonly string[]): Promise<void> {
    if (this.closed) return;
    const { root, registry, out } = this.options;
    const found = await registry.discover(root);
    const toLoad: DiscoveredPlugin[] = [];
    for (const name of folders) {
      if (this.closed) return;
      const dir = join(root, name);
      const plugin = found.plugins.find((p) => p.dir === dir);
      const id = this.byFolder.get(dir);
      const running = id !== undefined && registry.get(id) !== undefined;
      const hasManifest = existsSync(join(dir, 'manifest.json'));
      if (running && hasManifest) {
        // Reloaded from disk even when discovery refused the folder: the reload reports why and keeps the running version.
        out.note(`${name}: changed, reloading ${id}`);
        try {
          await registry.reload(id);
        } catch {
          // reported as reload_failed (or upgrade_refused) activity
        }
        continue;
      }
      if (running) {
        out.note(`${name}: plugin folder removed, unloading ${id}`);
        const before = new Set(registry.list().map((p) => p.id));
        try {
          await registry.unload(id, { cascade: true });
        } catch (error) {
          out.error(toHomecoreError(error, ErrorCode.INTERNAL));
        }
        const after = new Set(registry.list().map((p) => p.id));
        for (const gone of before) if (gone !== id && !after.has(gone)) this.waiting.add(gone);
        this.byFolder.delete(dir);
        continue;
      }
      if (id !== undefined) this.byFolder.delete(dir);
      if (plugin !== undefined) {
        if (registry.get(plugin.manifest.domain) !== undefined) {
          out.error(new HomecoreError(ErrorCode.DUPLICATE_PLUGIN, `${dir} declares ${plugin.manifest.domain}, which is already loaded from another folder: remove one of them or change its domain`, { plugin: plugin.manifest.domain }));
          continue;
        }
        out.note(`${name}: new plugin folder, loading ${plugin.manifest.domain}`);
        toLoad.push(plugin);
        continue;
      }
      const refused = found.errors.filter((e) => {
        const folder = (e.details as { folder?: unknown } | undefined)?.folder;
        return folder === dir;
      });
      for (const error of refused) out.error(error);
    }
    // Dependents unloaded with a removed dependency come back once their folder can load again.
    for (const waitingId of [...this.waiting]) {
      if (registry.get(waitingId) !== undefined) {
        this.waiting.delete(waitingId);
        continue;
      }
      const plugin = found.plugins.find((p) => p.manifest.domain === waitingId);
      if (plugin === undefined) continue;
      const deps = plugin.manifest.dependencies ?? [];
      const available = new Set([...registry.list().map((p) => p.id), ...toLoad.map((p) => p.manifest.domain)]);
      if (deps.every((d) => available.has(d)) && !toLoad.includes(plugin)) {
        this.waiting.delete(waitingId);
        out.note(`${waitingId}: its dependencies are back, loading it again`);
        toLoad.push(plugin);
      }
    }
    if (toLoad.length === 0 || this.closed) return;
    const report = await registry.loadAll(toLoad.map(loadItem));
    for (const p of toLoad) if (registry.get(p.manifest.domain) !== undefined) this.byFolder.set(p.dir, p.manifest.domain);
    for (const warning of report.warnings) out.note(`warning: ${warning}`);
    for (const error of report.errors) {
      if (error.plugin !== undefined && registry.get(error.plugin)?.state === 'setup_error') continue; // its setup_failed line said so
      if (error.code === ErrorCode.DEPENDENCY_MISSING && error.plugin !== undefined) this.waiting.add(error.plugin);
      out.error(error);
    }
  }
}
