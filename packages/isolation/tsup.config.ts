import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

export default defineConfig([
  baseConfig,
  // The guest side as one self-contained file: a child process under the permission model reads
  // only the files it was allowed, so the guest must not import from node_modules.
  { ...baseConfig, entry: { guest: 'src/guest.ts' }, clean: false, noExternal: [/.*/] },
]);
