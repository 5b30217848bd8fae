import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// The renderer is built to dist/renderer and served from disk (browser mode) or file:// in
// Electron, so every asset path is relative and nothing is loaded from a CDN.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [vue()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // A modulepreload polyfill would be an inline script, which the CSP refuses.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1200,
  },
});
