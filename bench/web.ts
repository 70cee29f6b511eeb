// The web app's part of the bench: what the built bundles weigh (gzip, as
// they travel), and how long a deep link takes, in headless Chromium on
// loopback, from navigation to the first terminal byte. Reads dist/web, so
// `npm run bench` builds first. What each figure means: docs/performance.md.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

/** Targets of this section, with units. */
export const WEB_TARGETS = {
  /** The budget: the first screen (sessions list) loads at most this much gzipped script. */
  firstScreenJsGzipBytes: 150 * 1024,
  /**
   * Deep link to first terminal byte, cold (no cache, no service worker), on
   * loopback: "typing into their tmux window in seconds" on a phone, so a
   * tenth of that budget on the computer itself.
   */
  deepLinkFirstByteMs: 1_000,
} as const

const DEEP_LINK_OPENS = 5
const WEB_ROOT = fileURLToPath(new URL('../web/', import.meta.url))

interface ManifestChunk {
  file: string
  isEntry?: boolean
  imports?: string[]
  dynamicImports?: string[]
  css?: string[]
}

export interface BundleSizes {
  /** Scripts the first screen loads: the entry and its static imports. */
  entryJsGzipBytes: number
  entryCssGzipBytes: number
  /** Scripts loaded when a terminal opens (xterm.js, addons, the terminal screen). */
  terminalJsGzipBytes: number
  terminalCssGzipBytes: number
  entryFiles: string[]
  terminalFiles: string[]
}

/** Sizes of the built app, from Vite's manifest (dist/web/.vite/manifest.json). */
export function bundleSizes(webRoot = WEB_ROOT): BundleSizes {
  const manifestPath = join(webRoot, '.vite', 'manifest.json')
  if (!existsSync(manifestPath)) throw new Error(`no ${manifestPath}; build the web app first: npx vite build`)
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, ManifestChunk>
  const entryKey = Object.keys(manifest).find((k) => manifest[k]?.isEntry)
  if (!entryKey) throw new Error(`${manifestPath} names no entry chunk`)

  /** A chunk and everything it imports statically. */
  const closure = (key: string, seen: Set<string>): Set<string> => {
    if (seen.has(key)) return seen
    seen.add(key)
    for (const dep of manifest[key]?.imports ?? []) closure(dep, seen)
    return seen
  }
  const entry = closure(entryKey, new Set())
  const lazy = new Set<string>()
  for (const key of entry) for (const dyn of manifest[key]?.dynamicImports ?? []) closure(dyn, lazy)
  for (const key of entry) lazy.delete(key)

  const gz = (file: string) => gzipSync(readFileSync(join(webRoot, file))).length
  const files = (keys: Set<string>, kind: 'js' | 'css') =>
    [...keys].flatMap((k) => (kind === 'js' ? [manifest[k]!.file] : (manifest[k]?.css ?? [])))
  const sum = (list: string[]) => [...new Set(list)].reduce((total, f) => total + gz(f), 0)
  return {
    entryJsGzipBytes: sum(files(entry, 'js')),
    entryCssGzipBytes: sum(files(entry, 'css')),
    terminalJsGzipBytes: sum(files(lazy, 'js')),
    terminalCssGzipBytes: sum(files(lazy, 'css')),
    entryFiles: files(entry, 'js'),
    terminalFiles: files(lazy, 'js'),
  }
}

export interface DeepLinkTimes {
  opens: number
  /** Fresh browser profile each time: no HTTP cache, no service worker. */
  coldMedianMs: number
  coldMaxMs: number
  /** The same profile reloading the link with the service worker in control. */
  warmMedianMs: number
}

/**
 * Opens `/t/SESSION/0` in headless Chromium, signed in with `cookie`
 * (`name=value`), and times navigation start → first binary WebSocket
 * message (the first terminal byte), as the page's own clock sees it.
 */
export async function measureDeepLink(port: number, cookie: string, session: string): Promise<DeepLinkTimes> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: process.env.HANDOFF_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-3d-apis', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  const [name, ...rest] = cookie.split('=')
  const cold: number[] = []
  const warm: number[] = []
  try {
    for (let i = -1; i < DEEP_LINK_OPENS; i++) {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
      try {
        await context.addCookies([{ name: name!, value: rest.join('='), domain: 'localhost', path: '/', httpOnly: true, sameSite: 'Strict' }])
        // Not subject to the page's CSP: DevTools injects it before any page script.
        await context.addInitScript(() => {
          const Native = window.WebSocket
          const w = window as unknown as { __firstByteMs?: number }
          window.WebSocket = class extends Native {
            constructor(url: string | URL, protocols?: string | string[]) {
              super(url, protocols)
              this.addEventListener('message', (event: MessageEvent) => {
                if (typeof event.data !== 'string' && w.__firstByteMs === undefined) w.__firstByteMs = performance.now()
              })
            }
          }
        })
        const page = await context.newPage()
        const url = `http://localhost:${port}/t/${encodeURIComponent(session)}/0`
        const firstByte = async () => {
          const handle = await page.waitForFunction(() => (window as unknown as { __firstByteMs?: number }).__firstByteMs, undefined, {
            timeout: 10_000,
            polling: 10,
          })
          return Number(await handle.jsonValue())
        }
        await page.goto(url)
        const coldMs = await firstByte()
        // The first open warms the server and Chromium up and is not counted.
        if (i >= 0) cold.push(coldMs)
        await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated', undefined, { timeout: 10_000 })
        await page.reload()
        const warmMs = await firstByte()
        if (i >= 0) warm.push(warmMs)
      } finally {
        await context.close()
      }
    }
  } finally {
    await browser.close()
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)] ?? NaN
  return { opens: DEEP_LINK_OPENS, coldMedianMs: median(cold), coldMaxMs: Math.max(...cold), warmMedianMs: median(warm) }
}

export interface WebResults {
  bundles: BundleSizes
  deepLink: DeepLinkTimes
}

export async function measureWeb(port: number, cookie: string, session: string): Promise<WebResults> {
  return { bundles: bundleSizes(), deepLink: await measureDeepLink(port, cookie, session) }
}

type Row = [string, string, string, string, string]

/** The section's rows for bench/run.ts's table. */
export function webRows(r: WebResults, verdict: (ok: boolean) => string): Row[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
  const ms = (x: number) => `${x.toFixed(0)} ms`
  const { bundles: b, deepLink: d } = r
  return [
    [
      'web: first screen JS, gzip',
      kb(b.entryJsGzipBytes),
      `${b.entryFiles.length} file(s), CSS ${kb(b.entryCssGzipBytes)}`,
      `<= ${kb(WEB_TARGETS.firstScreenJsGzipBytes)}`,
      verdict(b.entryJsGzipBytes <= WEB_TARGETS.firstScreenJsGzipBytes),
    ],
    ['web: terminal chunk JS (lazy), gzip', kb(b.terminalJsGzipBytes), `${b.terminalFiles.length} file(s), CSS ${kb(b.terminalCssGzipBytes)}`, '', ''],
    [
      'web: deep link to first byte, cold',
      ms(d.coldMedianMs),
      `median of ${d.opens}, max ${ms(d.coldMaxMs)}`,
      `<= ${ms(WEB_TARGETS.deepLinkFirstByteMs)}`,
      verdict(d.coldMedianMs <= WEB_TARGETS.deepLinkFirstByteMs),
    ],
    ['  warm (service worker in control)', ms(d.warmMedianMs), `median of ${d.opens}`, '', ''],
  ]
}
