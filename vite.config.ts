import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { VitePWA } from 'vite-plugin-pwa'

const fromRoot = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/**
 * Builds the web app (web/) into dist/web, which the server serves: hashed
 * files under /assets/ (cached as immutable), index.html for every other path.
 */
export default defineConfig({
  root: fromRoot('web'),
  // Vite's public/ convention is unused; keep it from resolving inside web/.
  publicDir: false,
  build: {
    outDir: fromRoot('dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
  },
  plugins: [
    VitePWA({
      strategies: 'injectManifest',
      // Resolved from Vite's root (web/), so an absolute path keeps the worker at service-worker/sw.ts.
      srcDir: fromRoot('service-worker'),
      filename: 'sw.ts',
      // main.ts registers the worker itself, in production builds only.
      injectRegister: false,
      manifest: {
        name: 'Handoff',
        short_name: 'Handoff',
        description: 'Your tmux sessions on your phone.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#111111',
        theme_color: '#111111',
      },
    }),
  ],
})
