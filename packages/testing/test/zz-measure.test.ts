import { describe, expect, it } from 'vitest';
import { createTestHome } from '@homecore/testing';
const examples = '/work/wt/kit/examples/smart-home/';
describe('wasm plugin through the kit', () => {
  it('temperature_alert_wasm raises the alert', async () => {
    const t0 = performance.now();
    const home = await createTestHome();
    const t1 = performance.now();
    try {
      await home.loadFolder(`${examples}temperature_alert_wasm`);
      const t2 = performance.now();
      await home.set('sensor.bedroom_temperature', '30');
      expect(home.state('binary_sensor.bedroom_heat_alert')?.state).toBe('on');
      console.log(`createTestHome ${(t1 - t0).toFixed(0)} ms, loadFolder ${(t2 - t1).toFixed(0)} ms, set ${(performance.now() - t2).toFixed(0)} ms`);
    } finally {
      await home.close();
    }
  });
});
