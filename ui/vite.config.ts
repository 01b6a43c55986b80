// Vite build of the companion UI. `npm run dev` proxies /rpc to a running `plusbox serve`
// (PLUSBOX_URL, default http://127.0.0.1:8787) so the dev server talks to the real sandbox.
import { readFileSync } from 'node:fs';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const target = process.env.PLUSBOX_URL ?? 'http://127.0.0.1:8787';

export default defineConfig({
  plugins: [svelte()],
  define: { __UI_VERSION__: JSON.stringify(pkg.version) },
  build: { target: 'es2022', sourcemap: false, reportCompressedSize: true },
  server: { proxy: { '/rpc': { target, changeOrigin: false } } },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
