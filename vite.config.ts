import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import { VitePWA } from 'vite-plugin-pwa'

const fromRoot = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/**
 * dist/web/terminal.html: index.html that also preloads the terminal chunk
 * (xterm.js and its stylesheet). The server answers a deep link (/t/…) with
 * it, so a cold open fetches the terminal beside the entry script instead of
 * after it has run: one round trip less. The sessions list keeps index.html
 * and stays small.
 */
function terminalShell(): Plugin {
  return {
    name: 'handoff-terminal-shell',
    apply: 'build',
    // After Vite's own HTML plugin has put index.html, with its hashed names, into the bundle.
    enforce: 'post',
    generateBundle(_options, bundle) {
      const index = bundle['index.html']
      const chunk = Object.values(bundle).find((file) => file.type === 'chunk' && file.facadeModuleId === fromRoot('web/shell/terminal-chunk.ts'))
      if (index?.type !== 'asset' || chunk?.type !== 'chunk') return this.error('terminal.html needs index.html and the terminal chunk in the bundle')
      // crossorigin as Vite's own loader asks for them, or the browser would not reuse the preloads.
      const preloads = [
        `<link rel="modulepreload" crossorigin href="/${chunk.fileName}">`,
        ...[...(chunk.viteMetadata?.importedCss ?? [])].map((css) => `<link rel="preload" as="style" crossorigin href="/${css}">`),
      ]
      const html = String(index.source)
      if (!html.includes('</head>')) return this.error('index.html has no </head> to put the preloads before')
      this.emitFile({ type: 'asset', fileName: 'terminal.html', source: html.replace('</head>', `${preloads.join('\n')}\n</head>`) })
    },
  }
}

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
    terminalShell(),
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
        // terminal.html only ever comes from the server: the worker answers every navigation with index.html.
        globIgnores: ['.vite/**', 'terminal.html'],
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
