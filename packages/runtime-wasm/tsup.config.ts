import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

export default defineConfig([
  // The backstop's host side is bundled in, so the sandbox still depends on core-traits alone.
  { ...baseConfig, noExternal: ['@homecore/isolation'] },
  // The preemption backstop's worker module, with its dependencies inlined.
  { ...baseConfig, entry: { guest: 'src/guest.ts' }, dts: false, clean: false, sourcemap: false, noExternal: [/.*/] },
]);
