import { InMemoryCore } from '@homecore/core';
import type { BusEvent } from '@homecore/core-traits';
import { createDeliveredEvent } from '@homecore/registry';
import { describe, expect, it } from 'vitest';

const encoder = new TextEncoder();

describe('a delivered event serialises as JSON.stringify of the event', () => {
  it('for state events assembled from cached state JSON, bytes first or text first, and for other events', () => {
    const core = new InMemoryCore();
    const events: BusEvent[] = [];
    core.listen((event) => events.push(event));
    const context = core.createContext({ userId: 'plugin:x' });
    core.setState('sensor.a', '21.5', { unit_of_measurement: '°C', nested: { list: [1, -0, 1e21, '😀'] } }, { context });
    core.setState('sensor.a', '22.5', { unit_of_measurement: '°C' }, { context });
    core.setState('sensor.a', '22.5', { unit_of_measurement: '°C' }, { context });
    core.removeState('sensor.a', context);
    core.fireEvent('custom_event', { a: [1, 'é'] }, context);
    expect(events.map((e) => e.event_type)).toEqual(['state_changed', 'state_changed', 'state_reported', 'state_changed', 'custom_event']);
    events.forEach((event, i) => {
      const delivered = createDeliveredEvent(event);
      const expected = JSON.stringify(event);
      if (i % 2 === 0) expect(Buffer.from(delivered.bytes()).equals(encoder.encode(expected))).toBe(true);
      expect(delivered.json()).toBe(expected);
      expect(Buffer.from(delivered.bytes()).equals(encoder.encode(expected))).toBe(true);
      expect(delivered.bytes()).toBe(delivered.bytes()); // computed once per event
    });
  });
});
