// One build config for every package, so the bundler can be swapped in one place.
export const baseConfig = {
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node20',
  // tsup injects `baseUrl`, which TypeScript 6 deprecates; declarations resolve siblings by their builds.
  dts: { compilerOptions: { ignoreDeprecations: '6.0', customConditions: [] } },
  sourcemap: true,
  clean: true,
  splitting: false,
  treeshake: true,
};
