import { describe, expect, it } from 'vitest';
import { ErrorCode, isHomecoreError } from '@homecore/core-traits';
import { parseScenario } from '@homecore/cli';

describe('parseScenario', () => {
  it('reads every step kind, skipping blanks and comments', () => {
    const steps = parseScenario(
      [
        '# a comment',
        '{"set": "sensor.t", "state": 21.5, "attributes": {"unit": "C"}}',
        '',
        '{"call": "light.turn_on", "data": {"entity_id": "light.a"}}',
        '{"fire": "doorbell", "data": {}}',
        '{"wait": 1500}',
        '{"options": "temperature_alert", "value": {"high": 27}}',
        '{"call": "virtual_light.turn_off"}',
      ].join('\n'),
    );
    expect(steps).toEqual([
      { line: 2, kind: 'set', entityId: 'sensor.t', state: '21.5', attributes: { unit: 'C' } },
      { line: 4, kind: 'call', domain: 'light', service: 'turn_on', data: { entity_id: 'light.a' } },
      { line: 5, kind: 'fire', eventType: 'doorbell', data: {} },
      { line: 6, kind: 'wait', ms: 1500 },
      { line: 7, kind: 'options', plugin: 'temperature_alert', value: { high: 27 } },
      { line: 8, kind: 'call', domain: 'virtual_light', service: 'turn_off', data: {} },
    ]);
  });

  it('reports every bad line at once, each with its line number and what to fix', () => {
    const text = ['{"set": "sensor.t"}', 'not json', '[1,2]', '{"wait": -5}', '{"call": "nodot"}', '{"set": "a.b", "state": "1", "colour": "red"}', '{"set": "a.b", "fire": "x", "state": "1"}'].join('\n');
    let error: unknown;
    try {
      parseScenario(text, 'story.jsonl');
    } catch (err) {
      error = err;
    }
    expect(isHomecoreError(error, ErrorCode.SCENARIO_INVALID)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('7 bad line(s)');
    expect(message).toContain('story.jsonl:1: a "set" line needs "state"');
    expect(message).toContain('story.jsonl:2: not valid JSON');
    expect(message).toContain('story.jsonl:3: each line must be a JSON object');
    expect(message).toContain('story.jsonl:4: "wait" must be a number of milliseconds');
    expect(message).toContain('story.jsonl:5: "call" must be "domain.service"');
    expect(message).toContain('story.jsonl:6: unknown key(s) "colour"');
    expect(message).toContain('story.jsonl:7: a line needs exactly one of the keys');
  });

  it('accepts an empty scenario', () => {
    expect(parseScenario('\n# nothing\n')).toEqual([]);
  });
});
