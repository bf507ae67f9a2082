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
    // `npm run web:dev` against the stack's nginx, or with POLLS_API against `npm run dev`.
    proxy: { '/api': process.env.POLLS_API ?? 'http://127.0.0.1:8080' }
  }
})
