import { defineConfig } from 'vitest/config';

// One vitest run for the whole workspace. Tests import packages by name; the `source`
// export condition resolves them to their TypeScript sources, so a test never sees a stale build.
// The stall-bounded hostile corpus runs after everything else, alone: its bound is on the event
// loop of its own process, which other test files' workers and child processes must not crowd.
const STALL_BOUNDED = ['test/hostile-classes.test.ts'];

export default defineConfig({
  resolve: { conditions: ['source', 'import', 'default'] },
  ssr: { resolve: { conditions: ['source', 'import', 'default'] } },
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './scripts/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'workspace', include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'], exclude: [...STALL_BOUNDED, '**/node_modules/**'] } },
      { extends: true, test: { name: 'stall-bounded', include: STALL_BOUNDED, sequence: { groupOrder: 1 } } },
    ],
  },
});
