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
  // Icons, copied as they are to dist/web/icons/ (drawn by scripts/draw-icons.sh and committed).
  publicDir: fromRoot('web/public'),
  build: {
    outDir: fromRoot('dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    // dist/web/.vite/manifest.json: which chunk is the entry and which load lazily (bench/web.ts reads it).
    manifest: true,
  },
  plugins: [
    VitePWA({
      strategies: 'injectManifest',
      // Resolved from Vite's root (web/), so an absolute path keeps the worker at service-worker/sw.ts.
      srcDir: fromRoot('service-worker'),
      filename: 'sw.ts',
      // main.ts registers the worker itself, in production builds only.
      injectRegister: false,
      injectManifest: {
        // The app shell: scripts, styles, index.html, icons and the manifest, so a cold start needs no network.
        globPatterns: ['**/*.{js,css,html,png,webmanifest}'],
        globIgnores: ['.vite/**'],
      },
      manifest: {
        id: '/',
        name: 'Handoff',
        short_name: 'Handoff',
        description: 'Your tmux sessions on your phone.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'any',
        background_color: '#111111',
        theme_color: '#111111',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
    }),
  ],
})
