// Frame preparation for the scanner.
import { describe, expect, it } from 'vitest';
import { base64ToHex, frameSize, MAX_FRAME_SIDE, rgbaToGrey, toBase64 } from './scan';

describe('scan frames', () => {
  it('downscales to MAX_FRAME_SIDE keeping the aspect, never upscales', () => {
    expect(frameSize(1280, 720)).toEqual({ width: MAX_FRAME_SIDE, height: 405 });
    expect(frameSize(720, 1280)).toEqual({ width: 405, height: MAX_FRAME_SIDE });
    expect(frameSize(320, 240)).toEqual({ width: 320, height: 240 });
    expect(frameSize(0, 0)).toEqual({ width: 1, height: 1 });
  });

  it('turns RGBA into luma: white 255, black 0, pure green brighter than pure blue', () => {
    const rgba = new Uint8ClampedArray([255, 255, 255, 255, 0, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]);
    const grey = rgbaToGrey(rgba, 4);
    expect(grey[0]).toBe(255);
    expect(grey[1]).toBe(0);
    expect(grey[2]).toBeGreaterThan(grey[3] ?? 255);
  });

  it('base64-encodes large frames exactly (chunked) and shows bytes as hex', () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
    expect(Buffer.from(toBase64(bytes), 'base64').equals(Buffer.from(bytes))).toBe(true);
    expect(base64ToHex(toBase64(new Uint8Array([0x82, 0xa0, 0x0a, 0xff])))).toBe('82 a0 0a ff');
  });
});
