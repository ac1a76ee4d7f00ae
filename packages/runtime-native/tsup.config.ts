import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

export default defineConfig([
  baseConfig,
  // The guest of isolated plugins: one file with its dependencies inlined, so a child process under
  // the permission model reads only this file (and the plugin's folder).
  { ...baseConfig, entry: { guest: 'src/guest.ts' }, dts: false, clean: false, sourcemap: false, noExternal: [/.*/] },
]);
