// The web app's part of the bench: what the built bundles weigh (gzip, as
// they travel), and how long a deep link takes to show a live terminal in
// headless Chromium, on loopback and with a phone network's round-trip time
// emulated by DevTools, cold and warm (service worker, saved screen), with
// the network waits in series on the way. Reads dist/web, so `npm run
// bench` builds first. What each figure means: docs/performance.md.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { Browser, CDPSession, Page } from 'playwright-core'
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
  /** The phone's network, as DevTools emulates it: every request and WebSocket handshake waits this long (the 60 ms). */
  phoneRttMs: 60,
  /** Deep link, fresh profile → live text, at phoneRttMs. */
  coldLiveTextMs: 1_500,
  /** Opening the app again (service worker, saved screen) → the saved screen, at phoneRttMs. */
  warmSavedScreenMs: 100,
  /** Opening the app again → live text, at phoneRttMs: three round trips and a little work. */
  warmLiveTextMs: 250,
  /** …and at most this many network waits in series on the way. */
  warmRoundTrips: 3,
} as const

/** Round-trip times the loads are measured at: loopback (the CPU's share alone), then the phone's. */
const RTTS_MS = [0, WEB_TARGETS.phoneRttMs] as const
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

/** One tmux window the bench can type into and read, to put a fresh marker on its screen. */
export interface MarkedPane {
  /** Types `line` and Enter into the pane. */
  type(line: string): void
  /** The pane's screen as text. */
  capture(): string
}

/** Medians and maxima of one figure over the counted opens. */
export interface Spread {
  medianMs: number
  maxMs: number
}

export interface Load {
  /** The terminal shows text the live socket brought (page clock, from navigation start). */
  liveText: Spread
  /** The first binary WebSocket message. */
  firstByte: Spread
  /** DOMContentLoaded: the entry script has run (what the browser and the service worker took before the app could act). */
  scriptRan: Spread
  /** Network waits in series before the terminal's socket was answered (median over the opens). */
  roundTrips: number
  /** The most frequent such chain, as names. */
  chain: string[]
}

export interface TimeToLive {
  /** The emulated round-trip time (0: plain loopback). */
  rttMs: number
  opens: number
  /** A fresh browser profile each time: no HTTP cache, no service worker, nothing saved. */
  cold: Load
  /** The same profile opening the link again: the service worker in control, the last screen saved. */
  warm: Load & {
    /** The first screen the terminal showed: the saved one, or the live one where it came first. */
    firstScreen: Spread
    /** In how many of the opens the saved screen was painted before the live one replaced it. */
    savedShown: number
  }
}

/** Text printed into the pane before each open; the page's probe records when `live-N` first shows. */
const MARKER = 'live'

/**
 * What DevTools injects into every page before the page's own scripts (so
 * the page's CSP does not apply): the page clock when the terminal socket
 * is created and at its first binary message, and when each marker is
 * first painted. A marker put
 * into the document while the browser renders a frame (xterm.js draws in
 * animation frames) is painted in that frame; one put in by any other task
 * is painted in the next frame the browser gets to, which a long task (the
 * terminal's chunk starting) can delay: then its time is that frame's.
 */
function pageProbe(marker: string): void {
  const probe = { socketMs: undefined as number | undefined, firstByteMs: undefined as number | undefined, seen: {} as Record<string, number> }
  ;(window as unknown as { __ttl: typeof probe }).__ttl = probe
  const Native = window.WebSocket
  window.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      if (new URL(url, location.href).pathname.startsWith('/api/term/')) probe.socketMs ??= performance.now()
      super(url, protocols)
      this.addEventListener('message', (event: MessageEvent) => {
        if (typeof event.data !== 'string') probe.firstByteMs ??= performance.now()
      })
    }
  }
  // True from this probe's animation-frame callback (registered first in each frame) until the frame is done.
  let rendering = false
  const frameDone = new MessageChannel()
  frameDone.port1.onmessage = () => (rendering = false)
  const frame = () => {
    rendering = true
    frameDone.port2.postMessage(0)
    requestAnimationFrame(frame)
  }
  requestAnimationFrame(frame)
  const pattern = new RegExp(`${marker}-(\\d+)`, 'g')
  const pending = new Set<string>()
  new MutationObserver(() => {
    for (const match of (document.body?.textContent ?? '').matchAll(pattern)) {
      const n = match[1]!
      if (probe.seen[n] !== undefined || pending.has(n)) continue
      if (rendering) probe.seen[n] = performance.now()
      else {
        pending.add(n)
        requestAnimationFrame(() => (probe.seen[n] ??= performance.now()))
      }
    }
  }).observe(document, { subtree: true, childList: true, characterData: true })
}

/** One network wait of the page: a request (start to whole body) or the socket's handshake; DevTools' clock, seconds. */
export interface Wait {
  label: string
  start: number
  end: number
}

/**
 * The waits in series that led to `last`: the wait that ended last before
 * `last` started, then the one that ended last before that one started,
 * and so on back to the page's start. Waits that overlap the chosen one ran
 * in parallel with it and are not counted.
 */
export function chainBefore(waits: readonly Wait[], last: Wait): Wait[] {
  const chain = [last]
  for (let current = last; ; ) {
    const before = waits.filter((w) => w !== current && w.end <= current.start).sort((a, b) => b.end - a.end)[0]
    if (!before) return chain.reverse()
    chain.push(before)
    current = before
  }
}

/** Request types the app waits on; pictures, the manifest and the event stream (which never ends) are left out. */
const WAITED_TYPES = new Set(['Document', 'Script', 'Stylesheet', 'Fetch', 'XHR'])

/** `/assets/terminal-chunk-Dj1wjgOI.js` → `terminal-chunk.js`; `/api/me` as it is; the document → `page`. */
function waitLabel(type: string, url: string): string {
  if (type === 'Document') return 'page'
  const { pathname } = new URL(url)
  const asset = /^\/assets\/(.+)-[\w-]{8}(\.\w+)$/.exec(pathname)
  return asset ? `${asset[1]}${asset[2]}` : decodeURIComponent(pathname)
}

/**
 * The page's network waits as DevTools reports them: requests that went to
 * the network (not those the service worker or a cache answered), and the
 * terminal socket's handshake. Times in ms since the epoch: DevTools gives
 * each request's start as wall time and its later events on a monotonic
 * clock, so each request's offset between the two converts them.
 */
class NetworkLog {
  private readonly requests = new Map<string, { label: string; start: number; end: number; offset: number; network: boolean }>()
  private socket: { id: string; offset: number; end: number } | undefined

  constructor(cdp: CDPSession) {
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.redirectResponse || !e.type || !WAITED_TYPES.has(e.type)) return
      const start = e.wallTime * 1000
      this.requests.set(e.requestId, { label: waitLabel(e.type, e.request.url), start, end: NaN, offset: start - e.timestamp * 1000, network: true })
    })
    // Throttled answers reach the page after the network service finished them: a wait ends at the later event.
    const ended = (id: string, timestamp: number) => {
      const request = this.requests.get(id)
      if (request) request.end = Math.max(timestamp * 1000 + request.offset, request.end || 0)
    }
    cdp.on('Network.responseReceived', (e) => {
      const request = this.requests.get(e.requestId)
      if (request) request.network = !e.response.fromServiceWorker && !e.response.fromDiskCache && !e.response.fromPrefetchCache
      ended(e.requestId, e.timestamp)
    })
    cdp.on('Network.loadingFinished', (e) => ended(e.requestId, e.timestamp))
    cdp.on('Network.requestServedFromCache', (e) => {
      const request = this.requests.get(e.requestId)
      if (request) request.network = false
    })
    cdp.on('Network.webSocketCreated', (e) => {
      if (!this.socket && new URL(e.url).pathname.startsWith('/api/term/')) this.socket = { id: e.requestId, offset: NaN, end: NaN }
    })
    cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
      if (e.requestId === this.socket?.id) this.socket.offset = e.wallTime * 1000 - e.timestamp * 1000
    })
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
      if (e.requestId === this.socket?.id) this.socket.end = e.timestamp * 1000 + this.socket.offset
    })
  }

  /** Forgets everything: the next navigation starts a new log. */
  reset(): void {
    this.requests.clear()
    this.socket = undefined
  }

  /**
   * The network waits in series up to the terminal socket's handshake, as
   * labels, given when the page created the socket (ms since the epoch): a
   * request that ended after that could not have held it up. Undefined until
   * the handshake is answered.
   */
  chainToSocket(createdAt: number): string[] | undefined {
    const socket = this.socket
    if (!socket || !Number.isFinite(socket.end)) return undefined
    const waits = [...this.requests.values()].filter((w) => w.network && Number.isFinite(w.end))
    return chainBefore(waits, { label: 'socket', start: createdAt, end: socket.end }).map((w) => w.label)
  }
}

/** Puts `MARKER-n` alone on the pane's screen (the typed command line never contains it) and waits until tmux shows it. */
async function showMarker(pane: MarkedPane, n: number): Promise<string> {
  pane.type(`printf '\\033[H\\033[2J${MARKER}-%s\\n' ${n}`)
  const deadline = Date.now() + STEP_TIMEOUT_MS
  while (!pane.capture().includes(`${MARKER}-${n}`)) {
    if (Date.now() > deadline) throw new Error(`the pane never showed ${MARKER}-${n}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return String(n)
}

interface OneLoad {
  liveTextMs: number
  firstByteMs: number
  scriptRanMs: number
  chain: string[]
}

type Probe = { socketMs?: number; firstByteMs?: number; seen: Record<string, number> }

/** Navigates to `url` and waits until marker `n` shows; the page's own clock, from navigation start. */
async function timeLoad(page: Page, log: NetworkLog, url: string, n: string): Promise<OneLoad> {
  log.reset()
  await page.goto(url, { timeout: STEP_TIMEOUT_MS, waitUntil: 'commit' })
  await page.waitForFunction((m) => (window as unknown as { __ttl: Probe }).__ttl.seen[m] !== undefined, n, { timeout: STEP_TIMEOUT_MS, polling: 20 })
  const { socketCreatedAt, ...times } = await page.evaluate((m) => {
    const probe = (window as unknown as { __ttl: Probe }).__ttl
    const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
    return {
      liveTextMs: probe.seen[m]!,
      firstByteMs: probe.firstByteMs ?? NaN,
      scriptRanMs: navigation?.domContentLoadedEventStart ?? NaN,
      socketCreatedAt: performance.timeOrigin + (probe.socketMs ?? NaN),
    }
  }, n)
  // DevTools' events travel apart from the page's answer: give the handshake's a moment to arrive.
  const deadline = Date.now() + 2_000
  let chain = log.chainToSocket(socketCreatedAt)
  while (!chain && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    chain = log.chainToSocket(socketCreatedAt)
  }
  if (!chain) throw new Error('DevTools never reported the terminal socket\'s handshake')
  return { ...times, chain }
}

/**
 * One fresh profile at `rttMs`: the deep link cold (marker `n` on the
 * pane), then, once the service worker is active, away to about:blank (the
 * terminal saves its screen on pagehide), marker `n + 1`, and the link
 * again warm: the saved screen shows `n`, the live one `n + 1`.
 */
async function coldThenWarm(browser: Browser, url: string, cookie: string, pane: MarkedPane, rttMs: number, n: number): Promise<{ cold: OneLoad; warm: OneLoad & { savedScreenMs: number } }> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
  try {
    const [name, ...value] = cookie.split('=')
    await context.addCookies([{ name: name!, value: value.join('='), domain: new URL(url).hostname, path: '/', httpOnly: true, sameSite: 'Strict' }])
    await context.addInitScript(pageProbe, MARKER)
    const page = await context.newPage()
    const cdp = await context.newCDPSession(page)
    const log = new NetworkLog(cdp)
    await cdp.send('Network.enable')
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: rttMs, downloadThroughput: -1, uploadThroughput: -1 })
    const cold = await timeLoad(page, log, url, await showMarker(pane, n))
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated', undefined, { timeout: STEP_TIMEOUT_MS })
    await page.goto('about:blank')
    const saved = String(n)
    const warm = await timeLoad(page, log, url, await showMarker(pane, n + 1))
    const { controlled, savedScreenMs } = await page.evaluate(
      (m) => ({ controlled: navigator.serviceWorker.controller !== null, savedScreenMs: (window as unknown as { __ttl: Probe }).__ttl.seen[m] ?? NaN }),
      saved,
    )
    if (!controlled) throw new Error('the second open was not served by the service worker')
    return { cold, warm: { ...warm, savedScreenMs } }
  } finally {
    await context.close()
  }
}

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)] ?? NaN
const spread = (v: readonly number[]): Spread => ({ medianMs: median(v), maxMs: Math.max(...v) })

/** The figures of several loads: spreads of the times, the median count of waits and the most frequent chain. */
function summarize(loads: readonly OneLoad[]): Load {
  const chains = new Map<string, number>()
  for (const { chain } of loads) chains.set(chain.join(' → '), (chains.get(chain.join(' → ')) ?? 0) + 1)
  const common = [...chains].sort((a, b) => b[1] - a[1])[0]?.[0] ?? ''
  return {
    liveText: spread(loads.map((l) => l.liveTextMs)),
    firstByte: spread(loads.map((l) => l.firstByteMs)),
    scriptRan: spread(loads.map((l) => l.scriptRanMs)),
    roundTrips: median(loads.map((l) => l.chain.length)),
    chain: common.split(' → '),
  }
}

/**
 * Opens `/t/SESSION/0` in headless Chromium, signed in with `cookie`
 * (`name=value`), cold and warm, at each round-trip time of RTTS_MS:
 * DEEP_LINK_OPENS counted fresh profiles each, after one that warms the
 * server and Chromium up.
 */
export async function measureTimeToLive(port: number, cookie: string, session: string, pane: MarkedPane): Promise<TimeToLive[]> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: process.env.HANDOFF_CHROMIUM ?? CHROMIUM_PATH, args: CHROMIUM_ARGS })
  const url = `http://localhost:${port}/t/${encodeURIComponent(session)}/0`
  const results: TimeToLive[] = []
  let marker = 0
  try {
    for (const rttMs of RTTS_MS) {
      const cold: OneLoad[] = []
      const warm: (OneLoad & { savedScreenMs: number })[] = []
      for (let i = -1; i < DEEP_LINK_OPENS; i++) {
        const loads = await coldThenWarm(browser, url, cookie, pane, rttMs, (marker += 2))
        if (i < 0) continue
        cold.push(loads.cold)
        warm.push(loads.warm)
      }
      const firstScreen = spread(warm.map((w) => Math.min(w.liveTextMs, Number.isFinite(w.savedScreenMs) ? w.savedScreenMs : Infinity)))
      const savedShown = warm.filter((w) => w.savedScreenMs < w.liveTextMs).length
      results.push({ rttMs, opens: DEEP_LINK_OPENS, cold: summarize(cold), warm: { ...summarize(warm), firstScreen, savedShown } })
    }
  } finally {
    await browser.close()
  }
  return results
}

export interface WebResults {
  /** Undefined when the build could not be read (`error` says why). */
  bundles?: BundleSizes
  /** Empty when Chromium could not be run or timed out (`error` says why). */
  loads: TimeToLive[]
  errors: string[]
}

/** Both measurements; a failure of one is reported, not thrown, so the rest of the bench still prints. */
export async function measureWeb(port: number, cookie: string, session: string, pane: MarkedPane): Promise<WebResults> {
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
  const loads = (await measureTimeToLive(port, cookie, session, pane).catch(why('deep link'))) ?? []
  return { ...(bundles ? { bundles } : {}), loads, errors }
}

type Row = [string, string, string, string, string]

/** The section's rows for bench/run.ts's table. */
export function webRows(r: WebResults, verdict: (ok: boolean) => string): Row[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
  const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'not shown')
  const rows: Row[] = r.errors.map((e): Row => ['web: not measured', e, '', '', 'MISS'])
  const b = r.bundles
  if (b) {
    const budget = WEB_TARGETS.firstScreenJsGzipBytes
    rows.push(
      ['web: first screen JS, gzip', kb(b.entryJsGzipBytes), `${b.entryFiles.length} file(s), CSS ${kb(b.entryCssGzipBytes)}`, `<= ${kb(budget)}`, verdict(b.entryJsGzipBytes <= budget)],
      ['web: terminal chunk JS (lazy), gzip', kb(b.terminalJsGzipBytes), `${b.terminalFiles.length} file(s), CSS ${kb(b.terminalCssGzipBytes)}`, '', ''],
    )
  }
  const T = WEB_TARGETS
  for (const { rttMs, opens, cold, warm } of r.loads) {
    const phone = rttMs === T.phoneRttMs
    const at = rttMs === 0 ? 'loopback' : `${rttMs} ms RTT`
    const waits = (load: Load) => `${load.roundTrips} waits in series: ${load.chain.join(' → ')}`
    const of = (s: Spread, extra = '') => `median of ${opens}, max ${ms(s.maxMs)}${extra}`
    rows.push(
      [`web, ${at}: deep link cold → live text`, ms(cold.liveText.medianMs), of(cold.liveText), phone ? `<= ${ms(T.coldLiveTextMs)}` : '', phone ? verdict(cold.liveText.medianMs <= T.coldLiveTextMs) : ''],
      ['  first byte; script ran', `${ms(cold.firstByte.medianMs)}; ${ms(cold.scriptRan.medianMs)}`, waits(cold), rttMs === 0 ? `first byte <= ${ms(T.deepLinkFirstByteMs)}` : '', rttMs === 0 ? verdict(cold.firstByte.medianMs <= T.deepLinkFirstByteMs) : ''],
      [
        `web, ${at}: warm → saved screen`,
        ms(warm.firstScreen.medianMs),
        of(warm.firstScreen, `; saved screen first in ${warm.savedShown}, else live`),
        phone ? `<= ${ms(T.warmSavedScreenMs)}` : '',
        phone ? verdict(warm.firstScreen.medianMs <= T.warmSavedScreenMs) : '',
      ],
      [
        `web, ${at}: warm → live text`,
        ms(warm.liveText.medianMs),
        of(warm.liveText),
        phone ? `<= ${ms(T.warmLiveTextMs)}, <= ${T.warmRoundTrips} waits` : '',
        phone ? verdict(warm.liveText.medianMs <= T.warmLiveTextMs && warm.roundTrips <= T.warmRoundTrips) : '',
      ],
      ['  first byte; script ran', `${ms(warm.firstByte.medianMs)}; ${ms(warm.scriptRan.medianMs)}`, waits(warm), '', ''],
    )
  }
  return rows
}
