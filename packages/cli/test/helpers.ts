import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@homecore/cli';

/** Runs `homecore` in process and captures its output. */
export async function homecore(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

/** A temporary directory of plugin folders: `{ domain: { 'manifest.json': {...}, 'index.js': '...' } }`. */
export function pluginDir(plugins: Record<string, Record<string, unknown>>): string {
  const root = mkdtempSync(join(tmpdir(), 'homecore-cli-'));
  for (const [folder, files] of Object.entries(plugins)) {
    mkdirSync(join(root, folder));
    for (const [name, content] of Object.entries(files)) {
      writeFileSync(join(root, folder, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    }
  }
  return root;
}

/** A file in a fresh temporary directory. */
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'homecore-cli-'));
  writeFileSync(join(dir, name), content);
  return join(dir, name);
}

/** A minimal valid manifest. */
export function manifest(domain: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domain,
    name: domain.replace(/_/g, ' '),
    version: '1.0.0',
    documentation: 'https://example.com',
    codeowners: ['@homecore'],
    iot_class: 'calculated',
    ...extra,
  };
}

/** A native plugin that copies a sensor into a binary sensor: on above 25, off below 20. */
export const THRESHOLD_PLUGIN = `
export default () => {
  let ctx;
  return {
    setup(context) { ctx = context; },
    onStateChanged(event) {
      const value = Number(event.data.new_state?.state);
      if (value > 25) ctx.setState('binary_sensor.alert', 'on', { temperature: value });
      else if (value < 20) ctx.setState('binary_sensor.alert', 'off', { temperature: value });
    },
  };
};
`;

/** Its manifest. */
export const THRESHOLD_MANIFEST = manifest('threshold', {
  subscriptions: { entities: ['sensor.temp'] },
  permissions: ['state:read:sensor.temp', 'state:write:binary_sensor.alert'],
});
