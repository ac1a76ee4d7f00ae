import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

// pattern.ts and reserved.ts are entries of their own: core-traits imports them without loading TypeBox.
export default defineConfig({ ...baseConfig, entry: ['src/index.ts', 'src/pattern.ts', 'src/reserved.ts'] });
