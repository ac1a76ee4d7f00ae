import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameError, encodeFrame } from '@homecore/isolation';

const message = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });

/** Splits bytes at the given cut points. */
function chunks(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('the process channel frames', () => {
  it('decode to the same messages however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(message, fc.option(fc.string(), { nil: undefined })), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
        const stream = Buffer.concat(items.map(([m, raw]) => encodeFrame(m, raw)));
        const decoder = new FrameDecoder(1 << 20);
        const got = chunks(stream, cuts).flatMap((c) => decoder.push(c));
        const want = items.map(([m, raw]) => JSON.parse(JSON.stringify(raw === undefined || raw === '' ? m : { ...m, arg: raw })) as unknown);
        expect(got).toEqual(want);
      }),
    );
  });

  it('refuse a frame over the limit from its header, before its body arrives', () => {
    const decoder = new FrameDecoder(1024);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(4096, 0);
    expect(() => decoder.push(header)).toThrow(FrameError);
  });

  it('refuse a frame that is not a JSON object', () => {
    for (const body of ['[1,2]', 'null', '{"a":', '"text"']) {
      const json = Buffer.from(body);
      const header = Buffer.alloc(8);
      header.writeUInt32BE(json.length, 0);
      expect(() => new FrameDecoder(1024).push(Buffer.concat([header, json]))).toThrow(FrameError);
    }
  });

  it('take a frame sent one byte at a time', () => {
    const frame = encodeFrame({ t: 'fx', ops: [['log', 'info', 'x'.repeat(50_000), null]] });
    const decoder = new FrameDecoder(1 << 20);
    const got: unknown[] = [];
    for (let i = 0; i < frame.length; i++) got.push(...decoder.push(frame.subarray(i, i + 1)));
    expect(got).toHaveLength(1);
  });
});
