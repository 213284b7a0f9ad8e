import { defineConfig } from 'vite'

export default defineConfig({
  // Relative URLs: the built folder works from any path of any static host.
  base: './',
  // Module workers, so the worker's chunks load on demand.
  worker: { format: 'es' },
  build: { target: 'es2022' },
})
