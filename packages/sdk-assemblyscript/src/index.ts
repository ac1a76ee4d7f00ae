import { fileURLToPath } from 'node:url';

/** The host ABI version the AssemblyScript sources in `assembly/` speak. */
export const HOST_ABI_VERSION = 1;

/** Absolute path of the SDK's AssemblyScript sources (`import ... from '@homecore/sdk-assemblyscript/assembly'`). */
export const ASSEMBLY_DIR: string = fileURLToPath(new URL('../assembly/', import.meta.url));

/** The asc flags HOMECORE plugins are built with: the incremental GC (the stub runtime never frees) and full optimisation. */
export const ASC_FLAGS: readonly string[] = Object.freeze(['-O3', '--runtime', 'incremental']);

/** Options for `compilePlugin`. */
export interface CompilePluginOptions {
  /** Where to write the `.wasm`; nothing is written when omitted. */
  outFile?: string;
  /** Memory maximum in 64 KiB pages (match the manifest's `limits.memory_pages`); none by default. */
  maximumMemoryPages?: number;
  /** Extra asc flags, appended last. */
  extraFlags?: readonly string[];
}

/** A compiled plugin: its bytes and its imports as `module.name`. */
export interface CompiledPlugin {
  readonly binary: Uint8Array<ArrayBuffer>;
  readonly imports: readonly string[];
}

/** The only import outside `homecore` the host accepts. */
const ALLOWED_FOREIGN_IMPORTS = new Set(['env.abort']);

/**
 * Compiles an AssemblyScript plugin entry with `ASC_FLAGS` and checks that it imports only host
 * ABI functions plus `env.abort`. Throws an Error carrying the compiler's output on failure.
 */
export async function compilePlugin(entry: string, options: CompilePluginOptions = {}): Promise<CompiledPlugin> {
  const { default: asc } = await import('assemblyscript/asc');
  const args = [entry, ...ASC_FLAGS, '--outFile', 'plugin.wasm'];
  if (options.maximumMemoryPages !== undefined) args.push('--maximumMemory', String(options.maximumMemoryPages));
  args.push(...(options.extraFlags ?? []));
  let binary: Uint8Array<ArrayBuffer> | undefined;
  const stderr: string[] = [];
  const result = await asc.main(args, {
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = new Uint8Array(contents);
    },
    stdout: { write: () => true } as never,
    stderr: {
      write: (chunk: string | Uint8Array) => {
        stderr.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      },
    } as never,
  });
  if (result.error || binary === undefined) {
    throw new Error(`asc failed to compile ${entry}: ${result.error?.message ?? 'no output'}\n${stderr.join('')}`);
  }
  const module = new WebAssembly.Module(binary);
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
  const foreign = imports.filter((name) => !name.startsWith('homecore.') && !ALLOWED_FOREIGN_IMPORTS.has(name));
  if (foreign.length > 0) {
    throw new Error(
      `${entry} imports ${foreign.join(', ')}, which a HOMECORE host refuses: avoid Math.random (env.seed), ` +
        `trace() (env.trace) and Date.now (use now() from the SDK)`,
    );
  }
  if (options.outFile !== undefined) {
    const { mkdir, writeFile } = await import('node:fs/promises');
    const { dirname } = await import('node:path');
    await mkdir(dirname(options.outFile), { recursive: true });
    await writeFile(options.outFile, binary);
  }
  return { binary, imports };
}
