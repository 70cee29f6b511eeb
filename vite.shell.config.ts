import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const fromRoot = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/**
 * The native shells' home screen (web/shell-home) into dist/shell: the page
 * the Android and iOS apps open first, from the app itself (their Capacitor
 * webDir), before any computer (docs/native-shells.md).
 */
export default defineConfig({
  root: fromRoot('web/shell-home'),
  base: './',
  build: {
    outDir: fromRoot('dist/shell'),
    emptyOutDir: true,
  },
})
