// Bundles the native reference plugins into the examples as self-contained ES modules
// (examples/<home>/<plugin>/index.js), so an example folder copied out of the repository runs
// without this private package. Part of `pnpm build`.
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

// source in src/examples -> the example folders that run it
const PLUGINS = {
  'temperature-alert': ['smart-home/temperature_alert', 'sandbox/temperature_alert'],
  'motion-light': ['smart-home/motion_light'],
  'virtual-light': ['smart-home/virtual_light', 'ports/c/virtual_light', 'ports/rust/virtual_light'],
};

if (await stat(examples).then((s) => s.isDirectory(), () => false)) {
  process.chdir(packageDir);
  for (const [source, folders] of Object.entries(PLUGINS)) {
    for (const folder of folders) {
      await build({
        entry: { index: `src/examples/${source}.ts` },
        outDir: `${examples}${folder}`,
        format: ['esm'],
        target: 'node20',
        platform: 'node',
        dts: false,
        sourcemap: false,
        clean: false,
        splitting: false,
        treeshake: true,
        noExternal: [/.*/],
        silent: true,
        config: false,
        banner: { js: `// Built by packages/plugin-example (pnpm build) from src/${source}.ts: a self-contained copy, so this folder runs anywhere. Do not edit.` },
      });
      console.log(`staged examples/${folder}/index.js`);
    }
  }
}
