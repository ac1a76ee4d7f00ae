import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORAGE_DIR, fileConfigEntryStore } from '@homecore/registry';
import { afterAll, describe, expect, it } from 'vitest';

// The writer imports the built package (dist, built before the tests run), as a host process would.
const writer = join(import.meta.dirname, 'fixtures', 'entry-writer.mjs');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the writer until it has acknowledged `acks` saves (after the first run, at least one more), then SIGKILLs it; the last acknowledged save. */
function runAndKill(dataDir: string, acks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dataDir, '40'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = 0;
    let seen = 0;
    let stderr = '';
    let buffered = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        last = Number(line);
        seen++;
      }
      if (seen >= acks && !child.killed) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`the writer exited with ${code}: ${stderr}`));
    });
  });
}

describe('kill during save', () => {
  it('leaves an old or a new complete file every time, over 30 SIGKILLs mid-stream', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hc-kill-'));
    dirs.push(dataDir);
    const outcomes = { old: 0, new: 0 };
    for (let round = 0; round < 30; round++) {
      // Kill after 1 to 12 acknowledged saves of this run, at a different point of the write each time.
      const acked = await runAndKill(dataDir, 1 + ((round * 7) % 12));
      // Each run restarts its sequence at 1: the file holds the last acknowledged save or the one after it.
      const snapshot = await fileConfigEntryStore(dataDir).load();
      expect(snapshot.entries).toHaveLength(40);
      const seqs = new Set(snapshot.entries.map((e) => e.data.seq));
      expect(seqs.size).toBe(1);
      const seq = [...seqs][0] as number;
      expect([acked, acked + 1]).toContain(seq);
      for (const e of snapshot.entries) expect(e).toMatchObject({ options: { seq }, disabled_by: seq % 2 === 0 ? null : 'user' });
      const q = Number(snapshot.quarantined[0]?.reason.slice(1));
      expect([acked, acked + 1]).toContain(q);
      if (seq === acked) outcomes.old++;
      else outcomes.new++;
    }
    expect(outcomes.old + outcomes.new).toBe(30);
    // Nothing was ever found corrupt and moved aside, and load removed the temporary files the kills left.
    expect(readdirSync(join(dataDir, STORAGE_DIR)).sort()).toEqual(['core.config_entries', 'homecore.quarantine']);
  }, 120_000);
});
