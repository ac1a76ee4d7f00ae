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
 * object, throws a FrameError before more than the header of it is buffered.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #buffer: Buffer = Buffer.alloc(0);

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Feeds bytes; returns the messages completed by them, in order. */
  push(chunk: Buffer): Record<string, unknown>[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: Record<string, unknown>[] = [];
    let offset = 0;
    while (this.#buffer.length - offset >= HEADER_BYTES) {
      const jsonLength = this.#buffer.readUInt32BE(offset);
      const rawLength = this.#buffer.readUInt32BE(offset + 4);
      const total = HEADER_BYTES + jsonLength + rawLength;
      if (total > this.#maxFrameBytes) {
        throw new FrameError(`a frame of ${total} bytes is over the limit of ${this.#maxFrameBytes}`);
      }
      if (this.#buffer.length - offset < total) break;
      const start = offset + HEADER_BYTES;
      let message: unknown;
      try {
        message = JSON.parse(this.#buffer.toString('utf8', start, start + jsonLength));
      } catch {
        throw new FrameError('a frame is not valid JSON');
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new FrameError('a frame is not a JSON object');
      if (rawLength > 0) (message as Record<string, unknown>).arg = this.#buffer.toString('utf8', start + jsonLength, start + jsonLength + rawLength);
      out.push(message as Record<string, unknown>);
      offset += total;
    }
    this.#buffer = offset === 0 ? this.#buffer : this.#buffer.subarray(offset);
    if (this.#buffer.length === 0) this.#buffer = Buffer.alloc(0);
    return out;
  }
}
