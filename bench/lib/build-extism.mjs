// Compiles the Extism peer plugin (bench/extism-plugin) with asc into bench/build/, with the same
// flags the reference plugins are built with (-O3, incremental runtime, 16 pages maximum).
// Rebuilt only when a source (the plugin, every SDK file it imports, or this script's flags) is
// newer than the output.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const entry = `${benchDir}extism-plugin/assembly/index.ts`;
const outFile = `${benchDir}build/extism_temperature_alert.wasm`;
const sources = [
  entry,
  `${benchDir}../packages/sdk-assemblyscript/assembly/json.ts`,
  `${benchDir}../packages/sdk-assemblyscript/assembly/types.ts`,
  `${benchDir}../packages/sdk-assemblyscript/assembly/view.ts`,
  `${benchDir}../packages/plugin-example/assembly/numeric.ts`,
  fileURLToPath(import.meta.url),
];

const mtime = (path) => stat(path).then((s) => s.mtimeMs, () => -1);

/** The Extism peer plugin's bytes, compiling it first if needed. */
export async function extismPluginBytes() {
  const built = await mtime(outFile);
  const newest = Math.max(...(await Promise.all(sources.map(mtime))));
  if (built < newest) {
    const { default: asc } = await import('assemblyscript/asc');
    await mkdir(`${benchDir}build`, { recursive: true });
    const errors = [];
    const result = await asc.main(
      [entry, '-O3', '--runtime', 'incremental', '--maximumMemory', '16', '--outFile', outFile],
      { stdout: { write: () => true }, stderr: { write: (c) => (errors.push(String(c)), true) } },
    );
    if (result.error) throw new Error(`asc failed on ${entry}: ${result.error.message}\n${errors.join('')}`);
  }
  return new Uint8Array(await readFile(outFile));
}
