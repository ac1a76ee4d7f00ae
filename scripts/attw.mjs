// Packs every published package as the registry would get it (`pnpm pack`: workspace versions
// rewritten, only `files` shipped) and runs "Are the types wrong?" on each tarball with the
// ESM-only profile. Needs the packages built (`pnpm build`). Usage: node scripts/attw.mjs [name...]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const attw = join(root, 'node_modules', '.bin', 'attw');
const pnpm = ['-y', 'pnpm@10.34.8'];

// The AssemblyScript entry (`./assembly`) resolves, but its sources import each other without
// extensions, as asc (which reads no `exports`) requires; TypeScript's node16 mode cannot follow
// those imports inside AssemblyScript code, which no TypeScript program imports anyway.
const IGNORED_RULES = { '@homecore/sdk-assemblyscript': ['internal-resolution-error'] };

const only = new Set(process.argv.slice(2));
const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => ({ dir: join(root, 'packages', d.name), json: JSON.parse(readFileSync(join(root, 'packages', d.name, 'package.json'), 'utf8')) }))
  .filter(({ json }) => json.private !== true && (only.size === 0 || only.has(json.name)));

const out = mkdtempSync(join(tmpdir(), 'homecore-attw-'));
const failed = [];
try {
  for (const { dir, json } of packages) {
    const packed = spawnSync('npx', [...pnpm, 'pack', '--pack-destination', out], { cwd: dir, encoding: 'utf8' });
    if (packed.status !== 0) {
      failed.push(json.name);
      console.error(`${json.name}: pnpm pack failed\n${packed.stderr}`);
      continue;
    }
    const tarball = join(out, readdirSync(out).find((f) => f === `${json.name.replace('@', '').replace('/', '-')}-${json.version}.tgz`) ?? '');
    const ignored = IGNORED_RULES[json.name] ?? [];
    const args = [tarball, '--profile', 'esm-only', '--format', 'table-flipped', ...(ignored.length > 0 ? ['--ignore-rules', ...ignored] : [])];
    const checked = spawnSync(attw, args, { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
    const ok = checked.status === 0;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${json.name}${ignored.length > 0 ? ` (ignoring ${ignored.join(', ')})` : ''}`);
    if (!ok) {
      failed.push(json.name);
      console.log(checked.stdout + checked.stderr);
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`attw: ${failed.length} package(s) fail: ${failed.join(', ')}`);
  process.exit(1);
}
console.log(`attw: ${packages.length} packages pass with the ESM-only profile`);
