#!/usr/bin/env node
// Stages what `homecore new` copies besides templates/ into dist/scaffold/ (published with the
// package): the C header and the Rust crate from the repository's sdks/ (one source each; the
// scaffold never holds a hand-kept copy), and versions.json, the version ranges a new project
// depends on: the workspace's @homecore packages and the third-party tools the repository uses.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('..', import.meta.url));
const root = join(cli, '../..');
const out = join(cli, 'dist/scaffold');
const read = (file) => JSON.parse(readFileSync(file, 'utf8'));

mkdirSync(join(out, 'c'), { recursive: true });
copyFileSync(join(root, 'sdks/c/homecore.h'), join(out, 'c/homecore.h'));
mkdirSync(join(out, 'rust/homecore/src'), { recursive: true });
copyFileSync(join(root, 'sdks/rust/homecore/Cargo.toml'), join(out, 'rust/homecore/Cargo.toml'));
copyFileSync(join(root, 'sdks/rust/homecore/src/lib.rs'), join(out, 'rust/homecore/src/lib.rs'));

const versions = {};
for (const dir of readdirSync(join(root, 'packages'))) {
  let pkg;
  try {
    pkg = read(join(root, 'packages', dir, 'package.json'));
  } catch {
    continue;
  }
  if (pkg.private !== true) versions[pkg.name] = `^${pkg.version}`;
}
const rootPkg = read(join(root, 'package.json'));
const tool = (name, ...sources) => {
  for (const pkg of [rootPkg, ...sources]) {
    const range = pkg.devDependencies?.[name] ?? pkg.dependencies?.[name];
    if (range !== undefined) return range;
  }
  throw new Error(`bundle-scaffold: no package of the repository names a version of ${name}`);
};
versions.typescript = tool('typescript');
versions.vitest = tool('vitest');
versions.assemblyscript = tool('assemblyscript', read(join(root, 'packages/sdk-assemblyscript/package.json')));
versions.wabt = tool('wabt', read(join(root, 'packages/runtime-wasm/package.json')));
writeFileSync(join(out, 'versions.json'), `${JSON.stringify(versions, null, 2)}\n`);
console.log(`bundle-scaffold: dist/scaffold (C and Rust SDKs, ${Object.keys(versions).length} versions)`);
