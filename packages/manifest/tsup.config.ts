import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

// pattern.ts is its own entry: core-traits imports it without loading TypeBox.
export default defineConfig({ ...baseConfig, entry: ['src/index.ts', 'src/pattern.ts'] });
