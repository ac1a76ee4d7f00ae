// Shared by the hook modules; kept out of exports.ts so `export *` does not export it.

/** The host's UTF-8 payload at (ptr, len) as a string (valid during the hook call only, so copied). */
export function decodePayload(ptr: usize, len: i32): string {
  return len <= 0 ? '' : String.UTF8.decodeUnsafe(ptr, <usize>len);
}
