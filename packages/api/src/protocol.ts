// Home Assistant's WebSocket message shapes and error codes (homeassistant/components/websocket_api:
// const.py, messages.py, connection.py), and a small checker that rejects bad commands the way
// voluptuous does there: required keys, types, and no extra keys.

import { cachedJson } from '@homecore/core-traits';

/** The Home Assistant version this API subset follows; sent as `ha_version` (clients gate features on it). */
export const HA_API_VERSION = '2025.1.0';

/** Home Assistant's WebSocket error codes (`websocket_api/const.py`). */
export const WsErrorCode = {
  ID_REUSE: 'id_reuse',
  INVALID_FORMAT: 'invalid_format',
  NOT_ALLOWED: 'not_allowed',
  NOT_FOUND: 'not_found',
  NOT_SUPPORTED: 'not_supported',
  HOME_ASSISTANT_ERROR: 'home_assistant_error',
  SERVICE_VALIDATION_ERROR: 'service_validation_error',
  UNKNOWN_COMMAND: 'unknown_command',
  UNKNOWN_ERROR: 'unknown_error',
  UNAUTHORIZED: 'unauthorized',
  TIMEOUT: 'timeout',
} as const;

/** One of Home Assistant's WebSocket error codes. */
export type WsErrorCodeValue = (typeof WsErrorCode)[keyof typeof WsErrorCode];

export function resultMessage(id: number, result: unknown = null): string {
  return `{"id":${id},"type":"result","success":true,"result":${cachedJson(result ?? null)}}`;
}

export function errorMessage(id: unknown, code: string, message: string, homecoreCode?: string): string {
  const error: Record<string, string> = { code, message };
  if (homecoreCode !== undefined) error.homecore_code = homecoreCode;
  return JSON.stringify({ id: typeof id === 'number' && Number.isFinite(id) ? id : null, type: 'result', success: false, error });
}

/** A field of a command: its kind and whether it must be there. */
export interface FieldSpec {
  readonly kind: 'string' | 'bool' | 'object' | 'non_negative_int' | 'entity_ids' | 'feature_map';
  readonly required?: boolean;
}

/** Command fields besides `id` and `type`. */
export type CommandSchema = Readonly<Record<string, FieldSpec>>;

const KIND_TEXT: Record<FieldSpec['kind'], string> = {
  string: 'expected str',
  bool: 'expected bool',
  object: 'expected dict',
  non_negative_int: 'expected int',
  entity_ids: 'expected a list of entity ids',
  feature_map: 'expected dict of str to int',
};

function got(value: unknown): string {
  if (value === undefined) return 'None';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function fits(kind: FieldSpec['kind'], value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'bool':
      return typeof value === 'boolean';
    case 'object':
      return isPlainObject(value);
    case 'non_negative_int':
      return typeof value === 'number' && Number.isInteger(value) && value >= 0; // cv.positive_int allows 0
    case 'entity_ids':
      return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
    case 'feature_map':
      return isPlainObject(value) && Object.values(value).every((v) => typeof v === 'number' && Number.isInteger(v));
  }
}

/**
 * Checks a command against its schema; returns a message in voluptuous' humanized form
 * (`required key not provided @ data['domain']. Got None`), or null when it fits.
 */
export function checkCommand(msg: Record<string, unknown>, schema: CommandSchema): string | null {
  for (const key of Object.keys(msg)) {
    if (key === 'id' || key === 'type') continue;
    if (!Object.hasOwn(schema, key)) return `extra keys not allowed @ data['${key}']. Got ${got(msg[key])}`;
  }
  for (const [key, spec] of Object.entries(schema)) {
    const value = msg[key];
    if (value === undefined) {
      if (spec.required === true) return `required key not provided @ data['${key}']. Got None`;
      continue;
    }
    if (!fits(spec.kind, value)) return `${KIND_TEXT[spec.kind]} for dictionary value @ data['${key}']. Got ${got(value)}`;
  }
  return null;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
