// Shared by the hook modules; kept out of exports.ts so `export *` does not export it.
//
// Payload memory: `hc_alloc` hands the host a pinned, garbage-collected ArrayBuffer and `hc_free`
// unpins it. A hook views the payload in place (no copy) and the views keep that buffer alive, so
// an event a plugin keeps past the call still reads valid bytes, and the collector frees the
// buffer once nothing refers to it.
import { JsonView } from './view';

/** The block the host is filling: the last `hc_alloc` not yet freed (0 when none). */
let lentBlock: usize = 0;

/** A pinned buffer of `size` bytes for the host to copy a payload into. */
export function lendBlock(size: i32): usize {
  const block = __pin(__new(<usize>size, idof<ArrayBuffer>()));
  lentBlock = block;
  return block;
}

/** Unpins a block from `lendBlock`; the collector frees it when no view refers to it. */
export function returnBlock(block: usize): void {
  if (block == 0) return;
  if (block == lentBlock) lentBlock = 0;
  __unpin(block);
}

/** The host's payload at (ptr, len) as a view: in place when it is the lent block, else copied. */
export function payloadView(ptr: usize, len: i32): JsonView {
  if (len < 0) len = 0;
  if (ptr != 0 && ptr == lentBlock && len <= changetype<ArrayBuffer>(ptr).byteLength) {
    return JsonView.of(changetype<ArrayBuffer>(ptr), len);
  }
  const copy = new ArrayBuffer(len);
  if (len > 0) memory.copy(changetype<usize>(copy), ptr, <usize>len);
  return JsonView.of(copy);
}

/** The host's UTF-8 payload at (ptr, len) as a string (valid during the hook call only, so copied). */
export function decodePayload(ptr: usize, len: i32): string {
  return len <= 0 ? '' : String.UTF8.decodeUnsafe(ptr, <usize>len);
}
