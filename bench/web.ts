// The web app's part of the bench: what the built bundles weigh (gzip, as
// they travel), and how long a deep link takes, in headless Chromium on
// loopback, from navigation to the first terminal byte. Reads dist/web, so
// `npm run bench` builds first. What each figure means: docs/performance.md.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../tests/support/chromium.js'

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
/** One page step (load, first byte, worker activation); a loaded 2-core machine has needed more than 10 s. */
const STEP_TIMEOUT_MS = 30_000
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
    executablePath: process.env.HANDOFF_CHROMIUM ?? CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
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
            timeout: STEP_TIMEOUT_MS,
            polling: 10,
          })
          return Number(await handle.jsonValue())
        }
        await page.goto(url, { timeout: STEP_TIMEOUT_MS })
        const coldMs = await firstByte()
        // The first open warms the server and Chromium up and is not counted.
        if (i >= 0) cold.push(coldMs)
        await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated', undefined, { timeout: STEP_TIMEOUT_MS })
        await page.reload({ timeout: STEP_TIMEOUT_MS })
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
  /** Undefined when the build could not be read (`error` says why). */
  bundles?: BundleSizes
  /** Undefined when Chromium could not be run or timed out (`error` says why). */
  deepLink?: DeepLinkTimes
  errors: string[]
}

/** Both measurements; a failure of one is reported, not thrown, so the rest of the bench still prints. */
export async function measureWeb(port: number, cookie: string, session: string): Promise<WebResults> {
  const errors: string[] = []
  const why = (step: string) => (error: unknown) => {
    errors.push(`${step}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
    return undefined
  }
  let bundles: BundleSizes | undefined
  try {
    bundles = bundleSizes()
  } catch (error) {
    why('bundle sizes')(error)
  }
  const deepLink = await measureDeepLink(port, cookie, session).catch(why('deep link'))
  return { ...(bundles ? { bundles } : {}), ...(deepLink ? { deepLink } : {}), errors }
}

type Row = [string, string, string, string, string]

/** The section's rows for bench/run.ts's table. */
export function webRows(r: WebResults, verdict: (ok: boolean) => string): Row[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
  const ms = (x: number) => `${x.toFixed(0)} ms`
  const { bundles: b, deepLink: d } = r
  const rows: Row[] = r.errors.map((e): Row => ['web: not measured', e, '', '', 'MISS'])
  if (b) {
    const budget = WEB_TARGETS.firstScreenJsGzipBytes
    rows.push(
      ['web: first screen JS, gzip', kb(b.entryJsGzipBytes), `${b.entryFiles.length} file(s), CSS ${kb(b.entryCssGzipBytes)}`, `<= ${kb(budget)}`, verdict(b.entryJsGzipBytes <= budget)],
      ['web: terminal chunk JS (lazy), gzip', kb(b.terminalJsGzipBytes), `${b.terminalFiles.length} file(s), CSS ${kb(b.terminalCssGzipBytes)}`, '', ''],
    )
  }
  if (d) {
    const target = WEB_TARGETS.deepLinkFirstByteMs
    rows.push(
      ['web: deep link to first byte, cold', ms(d.coldMedianMs), `median of ${d.opens}, max ${ms(d.coldMaxMs)}`, `<= ${ms(target)}`, verdict(d.coldMedianMs <= target)],
      ['  warm (service worker in control)', ms(d.warmMedianMs), `median of ${d.opens}`, '', ''],
    )
  }
  return rows
}
