// 1. Manifest validation p50: validateManifest on a typical manifest (the reference temperature
// alert's: permissions, config schema, HA fields), against JSON.parse of the same text as context.
import { validateManifest } from '@homecore/manifest';
import { temperatureAlertConfig, temperatureAlertManifest } from '@homecore/plugin-example';
import { interleave, sampleSync } from '../lib/measure.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const manifest = temperatureAlertManifest('native', temperatureAlertConfig);
const text = JSON.stringify(manifest, null, 2);
const parsed = JSON.parse(text);
if (!validateManifest(parsed).ok) throw new Error('the benchmark manifest does not validate');

const samples = quick ? 2_000 : 10_000;
const r = await interleave(
  {
    validate: async () => sampleSync(() => validateManifest(parsed), samples, 1),
    parse: async () => sampleSync(() => JSON.parse(text), samples, 1),
  },
  { warmup: 2, runs: quick ? 3 : 7 },
);

emit({
  measures: [
    measure({
      id: 'manifest.validate',
      name: 'manifest validation p50',
      value: r.validate.p50 / 1e3,
      unit: 'µs',
      p50: r.validate.p50 / 1e3,
      p99: r.validate.p99 / 1e3,
      ops: r.validate.ops,
      target: { max: 20, unit: 'µs', text: '<= 20 µs' },
      reference: { name: `JSON.parse of the same ${text.length} B text`, value: r.parse.p50 / 1e3, unit: 'µs' },
    }),
  ],
  notes: [`validateManifest on an already parsed object; ${samples} single-op samples per run`],
});
