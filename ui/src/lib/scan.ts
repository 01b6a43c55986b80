// Camera frames for the Rust scanner: a frame is drawn into a canvas no larger than
// MAX_FRAME_SIDE, turned into 8-bit luma and sent base64-encoded as `scan_frame`.

/** Longest side of a frame sent to the scanner: enough for a phone-held code, small to send. */
export const MAX_FRAME_SIDE = 720;

/** The size a `w`×`h` frame is scaled to (keeps the aspect, never upscales). */
export function frameSize(w: number, h: number, max = MAX_FRAME_SIDE): { width: number; height: number } {
  const scale = Math.min(1, max / Math.max(w, h, 1));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** RGBA pixels to luma (ITU-R BT.601 weights in integer arithmetic). */
export function rgbaToGrey(rgba: Uint8ClampedArray | Uint8Array, pixels: number): Uint8Array {
  const grey = new Uint8Array(pixels);
  for (let i = 0, p = 0; i < pixels; i++, p += 4) {
    grey[i] = ((rgba[p] ?? 0) * 77 + (rgba[p + 1] ?? 0) * 150 + (rgba[p + 2] ?? 0) * 29) >> 8;
  }
  return grey;
}

/** Base64 of bytes, in chunks so a large frame does not overflow the argument stack. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** Bytes from base64, as space-separated hex pairs (for codes whose content is not text). */
export function base64ToHex(b64: string): string {
  const binary = atob(b64);
  const out: string[] = [];
  for (let i = 0; i < binary.length; i++) out.push(binary.charCodeAt(i).toString(16).padStart(2, '0'));
  return out.join(' ');
}
