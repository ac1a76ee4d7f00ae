#!/usr/bin/env node
// The `homecore` command. This file is committed, not built, so that installing the workspace can
// link it before the first build (a bin pointing into dist/ makes pnpm warn on a fresh clone); the
// command itself is the built dist/bin.js.
try {
  await import('../dist/bin.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/bin.js')) {
    process.stderr.write('homecore: @homecore/cli is not built (dist/bin.js is missing): run "pnpm build" in the repository, or reinstall the package\n');
    process.exit(1);
  }
  throw error;
}
