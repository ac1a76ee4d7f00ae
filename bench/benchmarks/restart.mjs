// A hub restart with 200 config entries: a plugin with 200 entries is saved to a data directory
// (HA's .storage/core.config_entries through the registry's file store) and the hub shut down;
// then a fresh core and registry on the same directory load the plugin, and the time is taken from
// `registry.load` until every entry is set up (each its own instance, each writing one state in
// setup). The floor beside it: the same 200 entries added to a registry with no store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry, fileConfigEntryStore } from '@homecore/registry';
import { NativeRuntime } from '@homecore/runtime-native';
import { childArgs, emit, measure } from '../lib/report.mjs';

const ENTRIES = 200;
const now = process.hrtime.bigint;
const ms = (ns) => Number(ns) / 1e6;

const manifest = {
  domain: 'bridge',
  name: 'Bridge',
  version: '1.0.0',
  runtime: 'native',
  permissions: ['state:write:sensor.bridge_*'],
};

// A factory: each entry gets its own plugin object, as a plugin loaded from a folder does.
const plugin = () => ({
  setup(ctx) {
    ctx.setState(`sensor.bridge_${String(ctx.configEntry.data.n)}`, 'ready');
  },
});

function house(entries) {
  const core = new InMemoryCore();
  const registry = new PluginRegistry({ core, runtimes: [new NativeRuntime({ core })], ...(entries === undefined ? {} : { entries }) });
  return { core, registry };
}

async function fill(registry) {
  await registry.load(manifest, plugin, { config: { data: { n: 0 } } });
  for (let n = 1; n < ENTRIES; n++) await registry.addEntry('bridge', { data: { n } });
}

async function main() {
  const { quick } = childArgs();
  const rounds = quick ? 2 : 7;
  const restarts = [];
  const floors = [];
  for (let round = 0; round < rounds; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'homecore-restart-'));
    try {
      const first = house(fileConfigEntryStore(dir));
      await fill(first.registry);
      await first.registry.unloadAll(); // flushes the store after the last teardown
      const second = house(fileConfigEntryStore(dir));
      const t0 = now();
      await second.registry.load(manifest, plugin);
      await second.registry.idle();
      restarts.push(ms(now() - t0));
      const loaded = (await second.registry.entries('bridge')).filter((e) => e.state === 'loaded').length;
      if (loaded !== ENTRIES) throw new Error(`after the restart ${loaded} of ${ENTRIES} entries are loaded`);
      await second.registry.unloadAll();

      const bare = house(undefined);
      const t1 = now();
      await fill(bare.registry);
      await bare.registry.idle();
      floors.push(ms(now() - t1));
      await bare.registry.unloadAll();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  emit({
    measures: [
      measure({
        id: 'restart.entries_200',
        name: `hub restart with ${ENTRIES} config entries: registry.load until every entry is set up (entries read from .storage/core.config_entries)`,
        value: median(restarts),
        unit: 'ms',
        reference: { name: `the same ${ENTRIES} entries added to a registry with no store`, value: median(floors), unit: 'ms' },
        note: `median of ${rounds} rounds; each round a fresh data directory`,
      }),
    ],
    notes: [`restart: ${restarts.map((r) => r.toFixed(1)).join(', ')} ms; floor: ${floors.map((f) => f.toFixed(1)).join(', ')} ms`],
  });
}

await main();
