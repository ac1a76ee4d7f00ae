// Builds the AssemblyScript reference plugins to build/<name>.wasm and stages copies into the
// example smart home (examples/smart-home/<name>_wasm/plugin.wasm). Part of `pnpm build`.
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compilePlugin } from '@homecore/sdk-assemblyscript';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const examplesDir = fileURLToPath(new URL('../../../examples/smart-home/', import.meta.url));

// name -> memory maximum in pages (the manifests' limits.memory_pages)
const PLUGINS = { temperature_alert: 16, motion_light: 16 };

// asc resolves '@homecore/sdk-assemblyscript/assembly' from the working directory's node_modules.
process.chdir(packageDir);
await mkdir('build', { recursive: true });

const hasExamples = await stat(examplesDir).then((s) => s.isDirectory(), () => false);
for (const [name, pages] of Object.entries(PLUGINS)) {
  const outFile = `build/${name}.wasm`;
  const { binary, imports } = await compilePlugin(`assembly/${name}.ts`, { outFile, maximumMemoryPages: pages });
  console.log(`built ${outFile} (${binary.length} bytes; imports ${imports.join(', ')})`);
  if (hasExamples) {
    const staged = `${examplesDir}${name}_wasm/`;
    await mkdir(staged, { recursive: true });
    await copyFile(outFile, `${staged}plugin.wasm`);
  }
}
