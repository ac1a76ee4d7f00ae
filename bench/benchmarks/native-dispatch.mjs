// 2. Native dispatch overhead vs a direct call: one `state_changed` through the registry to one
// native temperature alert, against `await plugin.onStateChanged(event)` of the same handler on the
// same event objects.
//   e2e      = core.setState(...) + await registry.idle(), the plugin subscribed;
//   baseline = the same write and idle() on a host with no plugin (the core's own work);
//   dispatch = e2e - baseline: what the registry adds to deliver the event (index lookup, queue,
//              pump, the runtime's handleEvent, stats) including the handler itself;
//   direct   = await plugin.onStateChanged(event) of a second instance of the same plugin.
// In-band temperatures, so the handler parses and compares but never writes.
import { temperatureAlert } from '@homecore/plugin-example';
import { interleave, sampleAsyncBatch, sampleAsync } from '../lib/measure.mjs';
import { alertConfig, captureEvents, directContext, nativeHost, sensorWriter } from '../lib/hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const withPlugin = await nativeHost(1);
const empty = await nativeHost(0);
const write = sensorWriter(withPlugin.core);
const writeEmpty = sensorWriter(empty.core);
const events = captureEvents(withPlugin.core, write, 2);
await withPlugin.registry.idle();

const plugin = temperatureAlert();
await plugin.setup(directContext(withPlugin.core, alertConfig(0)));

const samples = quick ? 200 : 600;
const batch = 20;
const r = await interleave(
  {
    e2e: () => sampleAsyncBatch(() => (write(), withPlugin.registry.idle()), samples, batch),
    baseline: () => sampleAsyncBatch(() => (writeEmpty(), empty.registry.idle()), samples, batch),
    direct: () => sampleAsyncBatch(async (i) => await plugin.onStateChanged(events[i & 1]), samples, batch),
    e2eSingle: () => sampleAsync(() => (write(), withPlugin.registry.idle()), samples * 4),
  },
  { warmup: 2, runs: quick ? 3 : 7 },
);

const stats = withPlugin.registry.stats().plugins.temperature_alert_0;
if (stats.errors !== 0 || stats.dropped.overflow !== 0) throw new Error('the plugin failed or dropped events during the benchmark');

const us = (ns) => ns / 1e3;
const dispatch = r.e2e.p50 - r.baseline.p50;
emit({
  measures: [
    measure({
      id: 'native.dispatch_overhead',
      name: 'native dispatch overhead (setState + idle with the plugin − without), handler included, vs a direct call, p50',
      value: us(dispatch),
      unit: 'µs',
      p50: us(dispatch),
      reference: { name: 'await plugin.onStateChanged(event)', value: us(r.direct.p50), unit: 'µs' },
      ratioTarget: { max: 2, text: '<= 2x direct' },
    }),
    measure({
      id: 'native.e2e_in_band',
      name: 'native setState + delivery, in band (the plugin reads and does not write), p50',
      value: us(r.e2eSingle.p50),
      unit: 'µs',
      p50: us(r.e2eSingle.p50),
      p99: us(r.e2eSingle.p99),
      ops: r.e2eSingle.ops,
      reference: { name: 'the same write, no plugin', value: us(r.baseline.p50), unit: 'µs' },
      note: 'context: includes the core state machine (state object, timestamps, event); the end-to-end row with the plugin writing is e2e.native',
    }),
  ],
  notes: [
    `dispatch = median batch p50 of (setState + idle) with the plugin ${us(r.e2e.p50).toFixed(2)} µs minus without ${us(r.baseline.p50).toFixed(2)} µs; direct call ${us(r.direct.p50).toFixed(3)} µs; batches of ${batch}`,
  ],
});
