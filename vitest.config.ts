import { defineConfig } from 'vitest/config';

// One vitest run for the whole workspace. Tests import packages by name; the `source`
// export condition resolves them to their TypeScript sources, so a test never sees a stale build.
export default defineConfig({
  resolve: { conditions: ['source', 'import', 'default'] },
  ssr: { resolve: { conditions: ['source', 'import', 'default'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
