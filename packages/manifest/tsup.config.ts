import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

// pattern.ts and reserved.ts are entries of their own: core-traits imports them without loading TypeBox.
// The generated validators use two small TypeBox helpers, bundled in so no TypeBox module loads at run time.
export default defineConfig({ ...baseConfig, entry: ['src/index.ts', 'src/pattern.ts', 'src/reserved.ts'], noExternal: [/^typebox\//] });
