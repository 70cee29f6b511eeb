import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package's root folder, found from this file whether it runs from server/ (tests) or dist/server/ (built). */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('handoff: cannot find its package.json')
    dir = parent
  }
  return dir
}

export const PACKAGE_ROOT = findPackageRoot()

/** Where `vite build` puts the web app. */
export const WEB_ROOT = join(PACKAGE_ROOT, 'dist', 'web')

export const VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version
