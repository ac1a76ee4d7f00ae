import type { JsonValue } from '@homecore/core-traits';
import { ErrorCode, HomecoreError } from '@homecore/core-traits';

/** One step of a scenario file. */
export type ScenarioStep =
  | { line: number; kind: 'set'; entityId: string; state: string; attributes?: Record<string, JsonValue> }
  | { line: number; kind: 'call'; domain: string; service: string; data: Record<string, JsonValue> }
  | { line: number; kind: 'fire'; eventType: string; data: Record<string, JsonValue> }
  | { line: number; kind: 'wait'; ms: number }
  | { line: number; kind: 'options'; plugin: string; value: Record<string, JsonValue> };

const KINDS = ['set', 'call', 'fire', 'wait', 'options'] as const;
const ALLOWED_KEYS: Record<(typeof KINDS)[number], string[]> = {
  set: ['set', 'state', 'attributes'],
  call: ['call', 'data'],
  fire: ['fire', 'data'],
  wait: ['wait'],
  options: ['options', 'value'],
};

/**
 * Parses a scenario (JSON lines). Every problem is reported at once, each naming its line,
 * in one HC_ERR_SCENARIO_INVALID error.
 */
export function parseScenario(text: string, source = 'scenario'): ScenarioStep[] {
  const steps: ScenarioStep[] = [];
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    try {
      steps.push(parseStep(trimmed, line));
    } catch (err) {
      problems.push(`${source}:${line}: ${(err as Error).message}`);
    }
  });
  if (problems.length > 0) {
    throw new HomecoreError(ErrorCode.SCENARIO_INVALID, `the scenario has ${problems.length} bad line(s):\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  return steps;
}

function parseStep(text: string, line: number): ScenarioStep {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message}); each line must be one JSON object`);
  }
  if (!isObject(value)) throw new Error('each line must be a JSON object such as {"set": "sensor.x", "state": "1"}');
  const kinds = KINDS.filter((k) => k in value);
  if (kinds.length !== 1) {
    throw new Error(`a line needs exactly one of the keys ${KINDS.map((k) => `"${k}"`).join(', ')}; found ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`);
  }
  const kind = kinds[0]!;
  const extra = Object.keys(value).filter((k) => !ALLOWED_KEYS[kind].includes(k));
  if (extra.length > 0) throw new Error(`unknown key(s) ${extra.map((k) => `"${k}"`).join(', ')} in a "${kind}" line; allowed: ${ALLOWED_KEYS[kind].join(', ')}`);
  switch (kind) {
    case 'set': {
      const entityId = requireString(value.set, '"set" must be an entity id string such as "sensor.kitchen_temperature"');
      if (typeof value.state !== 'string' && typeof value.state !== 'number' && typeof value.state !== 'boolean') {
        throw new Error('a "set" line needs "state" as a string (numbers and booleans are turned into strings)');
      }
      const step: ScenarioStep = { line, kind, entityId, state: String(value.state) };
      if (value.attributes !== undefined) step.attributes = requireObject(value.attributes, '"attributes" must be a JSON object');
      return step;
    }
    case 'call': {
      const name = requireString(value.call, '"call" must be "domain.service"');
      const dot = name.indexOf('.');
      if (dot <= 0 || dot === name.length - 1 || name.indexOf('.', dot + 1) !== -1) throw new Error(`"call" must be "domain.service", got ${JSON.stringify(name)}`);
      return { line, kind, domain: name.slice(0, dot), service: name.slice(dot + 1), data: value.data === undefined ? {} : requireObject(value.data, '"data" must be a JSON object') };
    }
    case 'fire':
      return { line, kind, eventType: requireString(value.fire, '"fire" must be an event type string'), data: value.data === undefined ? {} : requireObject(value.data, '"data" must be a JSON object') };
    case 'wait': {
      const ms = value.wait;
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 86_400_000) throw new Error('"wait" must be a number of milliseconds from 0 to 86400000');
      return { line, kind, ms };
    }
    case 'options':
      return { line, kind, plugin: requireString(value.options, '"options" must name a plugin domain'), value: requireObject(value.value, 'an "options" line needs "value": a JSON object with the new options') };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(value: unknown, message: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(message);
  return value;
}

function requireObject(value: unknown, message: string): Record<string, JsonValue> {
  if (!isObject(value)) throw new Error(message);
  return value as Record<string, JsonValue>;
}
