import { ConfigEntryError, type ConfigEntry, type JsonValue } from '@homecore/core-traits';

/** A config entry's settings: `data` with `options` on top, as Home Assistant integrations read them. */
export function settingsOf(entry: ConfigEntry): Readonly<Record<string, JsonValue>> {
  return { ...entry.data, ...entry.options };
}

/** A required string setting; throws ConfigEntryError naming the key when it is missing. */
export function requireString(settings: Readonly<Record<string, JsonValue>>, key: string, plugin: string): string {
  const value = settings[key];
  if (typeof value !== 'string' || value === '') {
    throw new ConfigEntryError(`${plugin}: set "${key}" in the config entry data to an entity id string`);
  }
  return value;
}

/** An optional number setting; throws ConfigEntryError when it is present but not a finite number. */
export function numberOr(settings: Readonly<Record<string, JsonValue>>, key: string, fallback: number, plugin: string): number {
  const value = settings[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConfigEntryError(`${plugin}: "${key}" must be a finite number, got ${JSON.stringify(value)}`);
  }
  return value;
}

const NUMERIC_STATE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A sensor state as a number, or undefined for "unknown", "unavailable" and anything else that is
 * not a plain decimal number (surrounding ASCII whitespace is ignored; "inf" and "nan" are not numbers).
 * The wasm plugins implement exactly the same rule.
 */
export function parseNumericState(state: string): number | undefined {
  const trimmed = state.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
  if (!NUMERIC_STATE.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}
