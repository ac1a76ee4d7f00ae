// HOMECORE's coded errors as Home Assistant's WebSocket error codes and REST statuses.
import { ErrorCode, isHomecoreError } from '@homecore/core-traits';
import { WsErrorCode, type WsErrorCodeValue } from './protocol.js';

/** A failure as a WebSocket `result` error carries it. */
export interface MappedError {
  readonly code: WsErrorCodeValue;
  readonly message: string;
  /** The HOMECORE code, when the failure had one (sent as `error.homecore_code`). */
  readonly homecoreCode?: string;
  /** The REST status for it. */
  readonly status: number;
}

const INVALID = new Set<string>([
  ErrorCode.ENTITY_ID_INVALID,
  ErrorCode.STATE_INVALID,
  ErrorCode.EVENT_TYPE_INVALID,
  ErrorCode.EVENT_DATA_INVALID,
  ErrorCode.SERVICE_INVALID,
  ErrorCode.CONFIG_INVALID,
  ErrorCode.PATTERN_INVALID,
]);

const NOT_FOUND = new Set<string>([ErrorCode.SERVICE_NOT_FOUND, ErrorCode.PLUGIN_NOT_FOUND]);

/** Maps any thrown value: coded errors by code, anything else as `unknown_error`. */
export function mapError(error: unknown): MappedError {
  if (isHomecoreError(error)) {
    const code = error.code as string;
    const base = { message: error.message, homecoreCode: code };
    if (NOT_FOUND.has(code)) return { ...base, code: WsErrorCode.NOT_FOUND, status: 404 };
    if (INVALID.has(code)) return { ...base, code: WsErrorCode.INVALID_FORMAT, status: 400 };
    if (code === ErrorCode.PERMISSION_DENIED) return { ...base, code: WsErrorCode.UNAUTHORIZED, status: 401 };
    if (code === ErrorCode.HANDLER_TIMEOUT) return { ...base, code: WsErrorCode.TIMEOUT, status: 504 };
    if (code === ErrorCode.OPERATION_NOT_ALLOWED) return { ...base, code: WsErrorCode.NOT_ALLOWED, status: 400 };
    return { ...base, code: WsErrorCode.HOME_ASSISTANT_ERROR, status: 500 };
  }
  const message = error instanceof Error && error.message !== '' ? error.message : 'Unknown error';
  return { code: WsErrorCode.UNKNOWN_ERROR, message, status: 500 };
}
