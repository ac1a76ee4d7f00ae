// Length-prefixed frames for the child-process channel. A frame is an 8-byte header (two big-endian
// u32: the JSON part's length, then the raw part's length), a JSON message and an optional raw UTF-8
// string that becomes the message's `arg` (an event's JSON travels as is, not escaped inside JSON).

const HEADER_BYTES = 8;

/** Encodes one message (and an optional raw string sent as its `arg`) as a frame. */
export function encodeFrame(message: object, raw?: string): Buffer {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  const rawBytes = raw === undefined ? undefined : Buffer.from(raw, 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + json.length + (rawBytes?.length ?? 0));
  frame.writeUInt32BE(json.length, 0);
  frame.writeUInt32BE(rawBytes?.length ?? 0, 4);
  json.copy(frame, HEADER_BYTES);
  rawBytes?.copy(frame, HEADER_BYTES + json.length);
  return frame;
}

/** Why a stream of frames was refused. */
export class FrameError extends Error {}

/**
 * Splits a byte stream into messages. A frame over `maxFrameBytes`, or one that is not a JSON
 * object, throws a FrameError as soon as its header is read. Chunks are kept as they arrive and
 * joined once per frame, so a frame sent a byte at a time costs no more than one sent at once.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #length = 0;
  /** The length of the frame being received, once its header is in. */
  #frame: { readonly json: number; readonly raw: number } | undefined;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Feeds bytes; returns the messages completed by them, in order. */
  push(chunk: Buffer): Record<string, unknown>[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    const out: Record<string, unknown>[] = [];
    for (;;) {
      if (this.#frame === undefined) {
        if (this.#length < HEADER_BYTES) break;
        const header = this.#take(HEADER_BYTES);
        const json = header.readUInt32BE(0);
        const raw = header.readUInt32BE(4);
        if (HEADER_BYTES + json + raw > this.#maxFrameBytes) {
          throw new FrameError(`a frame of ${HEADER_BYTES + json + raw} bytes is over the limit of ${this.#maxFrameBytes}`);
        }
        this.#frame = { json, raw };
      }
      const { json, raw } = this.#frame;
      if (this.#length < json + raw) break;
      this.#frame = undefined;
      const body = this.#take(json + raw);
      let message: unknown;
      try {
        message = JSON.parse(body.toString('utf8', 0, json));
      } catch {
        throw new FrameError('a frame is not valid JSON');
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new FrameError('a frame is not a JSON object');
      if (raw > 0) (message as Record<string, unknown>).arg = body.toString('utf8', json, json + raw);
      out.push(message as Record<string, unknown>);
    }
    return out;
  }

  /** Removes and returns the first `n` buffered bytes (n <= buffered). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#length);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#length = rest.length;
    return taken;
  }
}
