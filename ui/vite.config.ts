// Vite build of the companion UI (`index.html`) and the TSP dashboard (`dashboard.html`, served
// at /dashboard). `npm run dev` proxies /rpc and /dashboard/api to a running `plusbox serve`
// (PLUSBOX_URL, default http://127.0.0.1:8787) so the dev server talks to the real sandbox.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const target = process.env.PLUSBOX_URL ?? 'http://127.0.0.1:8787';

export default defineConfig({
  plugins: [svelte()],
  define: { __UI_VERSION__: JSON.stringify(pkg.version) },
  build: {
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    rolldownOptions: {
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        dashboard: fileURLToPath(new URL('./dashboard.html', import.meta.url)),
      },
    },
  },
  server: {
    proxy: {
      '/rpc': { target, changeOrigin: false },
      '/dashboard/api': { target, changeOrigin: false },
    },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
