import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

export default defineConfig([
  baseConfig,
  // The preemption backstop's worker module, with its dependencies inlined.
  { ...baseConfig, entry: { guest: 'src/guest.ts' }, dts: false, clean: false, sourcemap: false, noExternal: [/.*/] },
]);
