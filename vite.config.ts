import { defineConfig } from 'vite'

// The web page: web/ in, dist/web out; nginx serves the output. Hashed assets go under
// /assets/, which nginx caches for good; index.html is never cached.
export default defineConfig({
  root: 'web',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022'
  },
  server: {
    // `npm run web:dev` against a stack started with docker compose.
    proxy: { '/api': 'http://127.0.0.1:8080' }
  }
})
