#!/usr/bin/env bash
# Creates the skeleton of a workspace package: scripts/new-package.sh <dir> "<one sentence>"
set -euo pipefail
dir="packages/$1"; name="@homecore/$1"; desc="$2"
mkdir -p "$dir/src" "$dir/test"
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "sideEffects": false,
  "exports": {
    ".": {
      "source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "import": "./dist/index.js"
    },
    "./package.json": "./package.json"
  },
  "main": "./dist/index.js",
  "types": "./dist/index.d.ts",
  "files": ["dist", "src"],
  "engines": { "node": ">=20" },
  "repository": { "type": "git", "directory": "$dir" },
  "scripts": {
    "build": "tsup",
    "typecheck": "tsc --noEmit -p tsconfig.json"
  },
  "dependencies": {}
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "." , "noEmit": true },
  "include": ["src", "test"]
}
JSON
cat > "$dir/tsup.config.ts" <<TS
import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.mjs';

export default defineConfig(baseConfig);
TS
