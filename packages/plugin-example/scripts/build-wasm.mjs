// Builds the AssemblyScript reference plugins to build/<name>.wasm and stages copies into the
// examples: the smart home (examples/smart-home/<name>_wasm/plugin.wasm) and, for the deliberately
// misbehaving plugins, the sandbox example (examples/sandbox/<name>/plugin.wasm). Part of `pnpm build`.
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compilePlugin } from '@homecore/sdk-assemblyscript';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

// name -> memory maximum in pages (the manifests' limits.memory_pages) and where the example copy goes
const PLUGINS = {
  temperature_alert: { pages: 16, staged: 'smart-home/temperature_alert_wasm' },
  motion_light: { pages: 16, staged: 'smart-home/motion_light_wasm' },
  runaway_meter: { pages: 16, staged: 'sandbox/runaway_meter' },
  hoarding_history: { pages: 16, staged: 'sandbox/hoarding_history' },
  door_snoop: { pages: 16, staged: 'sandbox/door_snoop' },
};

// asc resolves '@homecore/sdk-assemblyscript/assembly' from the working directory's node_modules.
process.chdir(packageDir);
await mkdir('build', { recursive: true });

const hasExamples = await stat(examples).then((s) => s.isDirectory(), () => false);
for (const [name, { pages, staged }] of Object.entries(PLUGINS)) {
  const outFile = `build/${name}.wasm`;
  const { binary, imports } = await compilePlugin(`assembly/${name}.ts`, { outFile, maximumMemoryPages: pages });
  console.log(`built ${outFile} (${binary.length} bytes; imports ${imports.join(', ')})`);
  if (hasExamples) {
    const folder = `${examples}${staged}/`;
    await mkdir(folder, { recursive: true });
    await copyFile(outFile, `${folder}plugin.wasm`);
  }
}
