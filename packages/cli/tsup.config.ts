import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

// Split into chunks: each command's dynamic import loads only its own code and dependencies.
export default defineConfig({ ...baseConfig, entry: ['src/index.ts', 'src/bin.ts'], splitting: true });
