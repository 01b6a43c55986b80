// Saves an exported report the way a browser saves any file: a Blob behind a temporary
// `<a download>` (the Tauri webview handles the same download).
import { safeFileName } from './runs';
import type { ExportFile } from './types';

/** Downloads `file`; `fallback` names it when the server's name has nothing usable. */
export function download(file: ExportFile, fallback: string): void {
  const blob = new Blob([file.content], { type: file.mediaType || 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = safeFileName(file.fileName, fallback);
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // Give the browser time to start reading the Blob before it is released.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
