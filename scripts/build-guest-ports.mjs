#!/usr/bin/env node
// Builds the C and Rust ports of the reference plugins (examples/ports/{c,rust}/src) with the
// SDKs in sdks/, and stages each module into its plugin folders next to a manifest derived from
// the reference it ports (examples/smart-home/<domain>/manifest.json), pinned and signed with the
// committed DEMO key, as the AssemblyScript examples are.
//
//   node scripts/build-guest-ports.mjs            build and write examples/ports/{c,rust}/<domain>/
//   node scripts/build-guest-ports.mjs --check    build in a temp dir; exit 1 if a committed
//                                                 plugin.wasm differs (reproducible builds) or a
//                                                 manifest does not pin it
//   --lang c|rust                                 only one language
//
// Toolchains (Debian): clang + lld (clang 14, target wasm32) and rustc 1.63 with
// libstd-rust-dev-wasm32 (target wasm32-unknown-unknown). CLANG and RUSTC override the paths;
// RUSTC defaults to /usr/bin/rustc because a rustup rustc on PATH may lack the wasm32 target.
// The outputs hold no absolute path or timestamp: the same sources give the same bytes anywhere.
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const ports = join(root, 'examples/ports');
const references = join(root, 'examples/smart-home');
const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, lang: { type: 'string' } } });

/** Memory of every port: 16 pages (1 MiB), the examples' limits.memory_pages; 64 KiB of it is stack. */
const MEMORY_PAGES = 16;
const STACK_BYTES = 64 * 1024;

/** Each port: its source, and the reference domains it is staged under (a native and an AssemblyScript one). */
const PLUGINS = [
  { name: 'temperature_alert', domains: ['temperature_alert', 'temperature_alert_wasm'] },
  { name: 'motion_light', domains: ['motion_light', 'motion_light_wasm'] },
];

/** The SDKs' JSON probe (sdks/<lang>/probe): a test plugin, staged in sdks/<lang>/probe/json_probe/. */
const PROBE = 'json_probe';
const PROBE_MANIFEST = {
  domain: PROBE,
  name: 'JSON probe',
  version: '1.0.0',
  documentation: 'https://github.com/homecore/homecore-plugins/tree/main/sdks',
  codeowners: ['@homecore/maintainers'],
  iot_class: 'calculated',
  runtime: 'wasm',
  entry: 'plugin.wasm',
  permissions: ['event:fire:json_probe_result'],
  // one event per parse: the tests parse a few thousand texts as fast as they can
  limits: { events_per_second: 100000 },
  services: [
    {
      name: 'parse',
      description: 'Parses data.text with the SDK and fires json_probe_result {valid, value} with the value written back.',
      schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
    },
  ],
};

const LANGS = {
  c: {
    label: 'C',
    tool: process.env.CLANG ?? 'clang',
    apt: 'clang lld',
    available(tool) {
      return run(tool, ['--version']) !== undefined && run('wasm-ld', ['--version']) !== undefined;
    },
    build(tool, outDir, jobs) {
      const out = {};
      for (const { name, dir } of jobs) {
        const file = join(outDir, `${name}.wasm`);
        execFileSync(
          tool,
          [
            '--target=wasm32',
            '-Oz',
            '-std=c11',
            '-ffreestanding',
            '-nostdlib',
            '-mbulk-memory',
            '-Wall',
            '-Wextra',
            '-Werror',
            '-I',
            relative(dir, join(root, 'sdks/c')),
            '-Wl,--no-entry',
            '-Wl,--strip-all',
            `-Wl,-z,stack-size=${STACK_BYTES}`,
            `-Wl,--max-memory=${MEMORY_PAGES * 65536}`,
            '-o',
            file,
            `${name}.c`,
          ],
          { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] },
        );
        out[name] = file;
      }
      return out;
    },
  },
  rust: {
    label: 'Rust',
    tool: process.env.RUSTC ?? '/usr/bin/rustc',
    apt: 'rustc libstd-rust-dev-wasm32',
    available(tool) {
      const libdir = run(tool, ['--print', 'target-libdir', '--target', 'wasm32-unknown-unknown']);
      return libdir !== undefined && existsSync(libdir.trim());
    },
    build(tool, outDir, jobs) {
      const profile = ['--edition', '2021', '--target', 'wasm32-unknown-unknown', '-C', 'opt-level=z', '-C', 'panic=abort', '-C', 'codegen-units=1'];
      const sdk = join(root, 'sdks/rust/homecore');
      const rlib = join(outDir, 'libhomecore.rlib');
      execFileSync(tool, [...profile, '--crate-type', 'rlib', '--crate-name', 'homecore', '-C', 'embed-bitcode=yes', `--remap-path-prefix=${sdk}=homecore`, '-o', rlib, 'src/lib.rs'], {
        cwd: sdk,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const out = {};
      for (const { name, dir } of jobs) {
        const file = join(outDir, `${name}.wasm`);
        execFileSync(
          tool,
          [
            ...profile,
            '--crate-type',
            'cdylib',
            '--crate-name',
            name,
            '-C',
            'lto',
            '-C',
            'strip=symbols',
            '-C',
            `link-arg=-zstack-size=${STACK_BYTES}`,
            '-C',
            `link-arg=--max-memory=${MEMORY_PAGES * 65536}`,
            '-A',
            'dead_code',
            '--extern',
            `homecore=${rlib}`,
            `--remap-path-prefix=${dir}=src`,
            `--remap-path-prefix=${outDir}=build`,
            '-o',
            file,
            `${name}.rs`,
          ],
          { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] },
        );
        out[name] = file;
      }
      return out;
    },
  },
};

function run(tool, args) {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

const hex = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The manifest of a port: the reference's, as a wasm plugin pinned to `bytes` and signed for `domain`. */
function portManifest(reference, label, bytes, privateKey, publisherKey) {
  const domain = reference.domain;
  const module = new WebAssembly.Module(bytes);
  const imports = WebAssembly.Module.imports(module)
    .filter((i) => i.module === 'homecore')
    .map((i) => i.name)
    .sort();
  const hashHex = hex(bytes);
  const signature = sign(null, Buffer.from(`homecore-module-v1\n${domain}\n${hashHex}`, 'utf8'), privateKey);
  const { module_hash: _h, module_signature: _s, publisher_key: _k, ...rest } = reference;
  return {
    ...rest,
    name: `${reference.name.replace(/ \(wasm\)$/, '')} (${label} port)`,
    runtime: 'wasm',
    entry: 'plugin.wasm',
    host_imports_required: imports,
    limits: { ...(reference.limits ?? {}), memory_pages: MEMORY_PAGES },
    module_hash: `sha256:${hashHex}`,
    module_signature: `ed25519:${signature.toString('base64')}`,
    publisher_key: publisherKey,
  };
}

const chosen = values.lang === undefined ? Object.keys(LANGS) : [values.lang];
for (const lang of chosen) if (!(lang in LANGS)) throw new Error(`--lang takes one of ${Object.keys(LANGS).join(', ')}; got ${JSON.stringify(lang)}`);

const privateKey = createPrivateKey(readFileSync(join(references, 'keys/demo-publisher.key.pem')));
const publisherKey = `ed25519:${createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64')}`;

const problems = [];
const work = mkdtempSync(join(tmpdir(), 'homecore-ports-'));
try {
  for (const lang of chosen) {
    const spec = LANGS[lang];
    if (!spec.available(spec.tool)) {
      throw new Error(`${spec.label} toolchain not found (${spec.tool}): install it with \`apt-get install -y ${spec.apt}\``);
    }
    const outDir = join(work, lang);
    mkdirSync(outDir, { recursive: true });
    const jobs = [...PLUGINS.map(({ name }) => ({ name, dir: join(ports, lang, 'src') })), { name: PROBE, dir: join(root, 'sdks', lang, 'probe') }];
    const built = spec.build(spec.tool, outDir, jobs);
    const targets = [
      ...PLUGINS.flatMap(({ name, domains }) => domains.map((domain) => ({ name, domain, folder: join(ports, lang, domain), where: `examples/ports/${lang}/${domain}` }))),
      { name: PROBE, domain: PROBE, folder: join(root, 'sdks', lang, 'probe', PROBE), where: `sdks/${lang}/probe/${PROBE}` },
    ];
    for (const { name, domain, folder, where } of targets) {
      const bytes = readFileSync(built[name]);
      const wasmPath = join(folder, 'plugin.wasm');
      if (values.check) {
        const committed = existsSync(wasmPath) ? readFileSync(wasmPath) : undefined;
        if (committed === undefined || !committed.equals(bytes)) {
          problems.push(`${where}/plugin.wasm differs from a fresh build (committed sha256:${committed === undefined ? '(missing)' : hex(committed)}, built sha256:${hex(bytes)})`);
        }
        const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'));
        if (manifest.module_hash !== `sha256:${hex(bytes)}`) problems.push(`${where}/manifest.json does not pin the fresh build`);
        continue;
      }
      mkdirSync(folder, { recursive: true });
      writeFileSync(wasmPath, bytes);
      const reference = name === PROBE ? PROBE_MANIFEST : JSON.parse(readFileSync(join(references, domain, 'manifest.json'), 'utf8'));
      writeFileSync(join(folder, 'manifest.json'), `${JSON.stringify(portManifest(reference, spec.label, bytes, privateKey, publisherKey), null, 2)}\n`);
      if (name !== PROBE) writeFileSync(join(folder, 'config.json'), readFileSync(join(references, domain, 'config.json')));
      console.log(`built ${where}/plugin.wasm (${bytes.length} bytes, sha256:${hex(bytes).slice(0, 12)}...)`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (values.check) {
  if (problems.length > 0) {
    console.error(`guest ports are not reproducible from their sources:\n  ${problems.join('\n  ')}\nRebuild with \`node scripts/build-guest-ports.mjs\` and commit examples/ports.`);
    process.exit(1);
  }
  console.log(`guest ports: ${chosen.join(', ')} rebuilt byte for byte from their sources`);
}
