import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../server/index.js'
import { updateDevices } from '../server/store/index.js'
import { addSignedInDevice, type TestDevice } from './support/device.js'
import { PrivateTmux, tempHome } from './support/tmux.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH, signInContext } from './support/chromium.js'

// The installable app in Chromium with a phone's screen and touch: manifest,
// service worker, offline shell, update prompt, lock on resume, the page's
// safety headers, and the size of the first screen. Needs the build in
// dist/web (`npx vite build`); each test serves its own copy of it, so the
// update test can change the worker without touching dist/.

const POLL = { timeout: 15_000, interval: 100 }
const DIST_WEB = fileURLToPath(new URL('../dist/web/', import.meta.url))
/** The budget for the first screen's scripts. */
const FIRST_SCREEN_GZIP_BUDGET = 150 * 1024
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const

let browser: Browser
let tmux: PrivateTmux
let home: string
let removeHome: () => void
let webRoot: string
let server: RunningServer | undefined
let context: BrowserContext | undefined
let page: Page
let device: TestDevice
/** Uncaught errors, console errors and CSP refusals of the current page. */
let problems: string[]

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  })
})

afterAll(async () => {
  await browser?.close()
})

beforeEach(async () => {
  tmux = new PrivateTmux()
  tmux.newSession('proj')
  tmux.run('new-window', '-d', '-t', 'proj:1')
  ;({ home, remove: removeHome } = tempHome())
  webRoot = mkdtempSync(join(tmpdir(), 'handoff-web-'))
  cpSync(DIST_WEB, webRoot, { recursive: true })
  server = await startServer({ port: 0, tmuxSocket: tmux.socket, home, webRoot, log: () => {} })
})

afterEach(async () => {
  await context?.close()
  context = undefined
  await server?.close()
  server = undefined
  tmux.kill()
  removeHome()
  rmSync(webRoot, { recursive: true, force: true })
})

/** A phone signed in as a new device (`grant` as `handoff pair` would set it). */
async function phone(grant: Parameters<typeof addSignedInDevice>[2] = {}): Promise<void> {
  context = await browser.newContext(PHONE)
  device = await signInContext(context, home, server!.url, grant)
  page = await context.newPage()
  watchProblems(page)
}

function watchProblems(p: Page): void {
  problems = []
  p.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  p.on('console', (message) => {
    if (message.type() === 'error' || message.text().includes('Content Security Policy')) {
      problems.push(`console ${message.type()}: ${message.text()} (${message.location().url})`)
    }
  })
}

/** Loads the app and waits until its service worker controls the page (so it works offline). */
async function openControlled(path = '/'): Promise<void> {
  await page.goto(`${server!.url}${path}`)
  // `ready` resolves once a worker is active, but a page loaded before that is not controlled until reloaded.
  await expect.poll(() => page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state), POLL).toBe('activated')
  await page.reload()
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), POLL).toBe(true)
}

/** Pretends the phone hid the app (home button, screen off) or showed it again. */
async function setVisibility(state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s })
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' })
    document.dispatchEvent(new Event('visibilitychange'))
  }, state)
}

/**
 * Gives the device a passkey and puts it in the phone's virtual
 * authenticator, as pairing would (pairing itself: pairing-browser.test.ts).
 * Bookkeeping only: the generation stays, so the sign-in cookie stays valid.
 */
async function givePasskey(): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = publicKey.export({ format: 'jwk' })
  const x = Buffer.from(jwk.x!, 'base64url')
  const y = Buffer.from(jwk.y!, 'base64url')
  // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
  const cose = Buffer.concat([Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]), x, Buffer.from([0x22, 0x58, 0x20]), y])
  const id = randomBytes(16)
  await updateDevices(home, (devices) =>
    devices.map((d) =>
      d.id === device.record.id ? { ...d, credential: { id: id.toString('base64url'), publicKey: cose.toString('base64url'), counter: 0, transports: ['internal'] } } : d,
    ),
  )
  const cdp = await context!.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  })
  await cdp.send('WebAuthn.addCredential', {
    authenticatorId,
    credential: {
      credentialId: id.toString('base64'),
      isResidentCredential: true,
      rpId: 'localhost',
      privateKey: (privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer).toString('base64'),
      userHandle: Buffer.from(device.record.id, 'utf8').toString('base64'),
      signCount: 0,
    },
  })
}

describe('installable app', () => {
  it('meets the install criteria: a valid manifest with icons that load, and a worker that controls the page', async () => {
    await phone()
    await openControlled()
    await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)

    const cdp = await context!.newCDPSession(page)
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
    // Playwright's contexts are off-the-record, which alone bars installing; every other criterion must hold.
    expect(installabilityErrors.filter((e) => e.errorId !== 'in-incognito')).toEqual([])
    const { errors } = await cdp.send('Page.getAppManifest')
    expect(errors).toEqual([])

    const manifest = await page.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>('link[rel=manifest]')!.href
      return (await fetch(href)).json() as Promise<Record<string, unknown>>
    })
    expect(manifest).toMatchObject({
      name: 'Handoff',
      short_name: 'Handoff',
      start_url: '/',
      scope: '/',
      display: 'standalone',
      theme_color: '#111111',
      background_color: '#111111',
    })
    expect(typeof manifest.description).toBe('string')
    const icons = manifest.icons as { src: string; sizes: string; purpose?: string }[]
    expect(icons.map((i) => `${i.sizes} ${i.purpose ?? 'any'}`).sort()).toEqual(['192x192 any', '512x512 any', '512x512 maskable'])
    // Every icon (and the iOS touch icon) loads and has the size it claims.
    const appleTouch = await page.evaluate(() => document.querySelector<HTMLLinkElement>('link[rel=apple-touch-icon]')?.href ?? '')
    for (const { src, sizes } of [...icons, { src: appleTouch, sizes: '180x180' }]) {
      const loaded = await page.evaluate(async (url) => {
        const response = await fetch(url)
        const bitmap = await createImageBitmap(await response.blob())
        return `${response.headers.get('content-type')} ${bitmap.width}x${bitmap.height}`
      }, src)
      expect(loaded).toBe(`image/png ${sizes}`)
    }
    // iOS and safe areas.
    const head = await page.evaluate(() => ({
      capable: document.querySelector('meta[name=apple-mobile-web-app-capable]')?.getAttribute('content'),
      statusBar: document.querySelector('meta[name=apple-mobile-web-app-status-bar-style]')?.getAttribute('content'),
      viewport: document.querySelector('meta[name=viewport]')?.getAttribute('content'),
      scheme: getComputedStyle(document.documentElement).colorScheme,
    }))
    expect(head).toMatchObject({ capable: 'yes', statusBar: 'black-translucent', scheme: 'dark' })
    expect(head.viewport).toContain('viewport-fit=cover')
    expect(problems).toEqual([])
  })

  it('serves the page with a strict CSP and safety headers, and keeps the sign-in token out of reach of scripts', async () => {
    await phone()
    const response = await page.goto(server!.url)
    const headers = response!.headers()
    const csp = headers['content-security-policy'] ?? ''
    const directive = (name: string) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `)) ?? ''
    expect(directive('default-src')).toBe("default-src 'self'")
    expect(directive('script-src')).toBe("script-src 'self'")
    expect(csp).not.toContain('unsafe-eval')
    expect(directive('frame-ancestors')).toBe("frame-ancestors 'none'")
    expect(headers['referrer-policy']).toBe('no-referrer')
    expect(headers['x-content-type-options']).toBe('nosniff')
    // No inline script for the CSP to have to allow.
    expect(await response!.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)

    await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
    // The cookie is httpOnly, and nothing else holds the token.
    expect(await page.evaluate(() => document.cookie)).toBe('')
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
    expect(stored).not.toContain(device.token)
    expect(page.url()).not.toContain(device.token)
    expect(problems).toEqual([])
  })

  it('renders sign-in, sessions, the kill dialog and the terminal without console errors or CSP refusals', async () => {
    // Signed out first: the sign-in screen.
    context = await browser.newContext(PHONE)
    page = await context.newPage()
    watchProblems(page)
    await page.goto(server!.url)
    await expect.poll(() => page.getByTestId('signin-button').count(), POLL).toBe(1)
    await context.close()

    await phone()
    await page.goto(server!.url)
    await page.getByTestId('session-proj').click()
    await expect.poll(() => page.getByTestId('window-1').count(), POLL).toBe(1)
    // Each window shows its index, name, command and folder, and how recently it was active.
    expect(await page.getByTestId('window-0').textContent()).toMatch(/^0.*sh.*just now/)
    await page.getByTestId('kill-window-1').click()
    await expect.poll(() => page.getByTestId('confirm-dialog').isVisible(), POLL).toBe(true)
    await page.getByTestId('confirm-cancel').click()
    await page.getByTestId('window-0').click()
    await expect.poll(() => page.getByTestId('status').getAttribute('data-state'), POLL).toBe('live')
    await expect.poll(() => page.locator('.xterm-rows').textContent(), POLL).toMatch(/[$#]/)
    expect(problems).toEqual([])
  })

  it('loads the first screen within 150 KB of gzipped script, and xterm.js only when a terminal opens', async () => {
    await phone()
    await page.goto(server!.url)
    await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
    const scripts = () =>
      page.evaluate(() =>
        performance
          .getEntriesByType('resource')
          .map((e) => new URL(e.name).pathname)
          .filter((p) => p.endsWith('.js') && p !== '/sw.js'),
      )
    const first = await scripts()
    const gzipped = first.reduce((sum, path) => sum + gzipSync(readFileSync(join(webRoot, path))).length, 0)
    // The entry comes from index.html's <script>, not the resource timeline.
    const entry = /<script type="module"[^>]*src="([^"]+)"/.exec(readFileSync(join(webRoot, 'index.html'), 'utf8'))![1]!
    const total = gzipped + gzipSync(readFileSync(join(webRoot, entry))).length
    expect(total).toBeLessThanOrEqual(FIRST_SCREEN_GZIP_BUDGET)
    expect(first.filter((p) => p.includes('terminal'))).toEqual([])
    expect(await page.evaluate(() => document.querySelector('.xterm') === null)).toBe(true)

    await page.getByTestId('session-proj').click()
    await page.getByTestId('window-0').click()
    await expect.poll(() => page.getByTestId('status').getAttribute('data-state'), POLL).toBe('live')
    expect((await scripts()).filter((p) => p.includes('terminal'))).toHaveLength(1)
    expect(problems).toEqual([])
  })
})

describe('offline and updates', () => {
  it('opens from the precached shell with the last known sessions when the computer is unreachable, then recovers', async () => {
    await phone()
    await openControlled()
    await page.getByTestId('session-proj').click()
    await expect.poll(() => page.getByTestId('window-1').count(), POLL).toBe(1)

    const { port } = server!
    await server!.close()
    server = undefined
    await page.reload()
    await expect.poll(() => page.getByTestId('offline-banner').textContent(), POLL).toMatch(/^Can’t reach localhost — retrying/)
    expect(await page.getByTestId('last-session-proj').textContent()).toContain('proj')
    expect(await page.getByTestId('last-known').textContent()).toContain('2 windows')

    // It keeps trying on its own (with backoff) and comes back when the server does.
    server = await startServer({ port, tmuxSocket: tmux.socket, home, webRoot, log: () => {} })
    await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
    expect(await page.getByTestId('offline').count()).toBe(0)
  })

  it('shows "Can\'t reach" over the sessions list when the server stops while it is open', async () => {
    await phone()
    await page.goto(server!.url)
    await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
    await server!.close()
    server = undefined
    await page.getByTestId('refresh').click()
    await expect.poll(() => page.getByTestId('offline-banner').textContent(), POLL).toContain('Can’t reach localhost')
    // The list stays as it was: nothing navigates away on its own.
    expect(await page.getByTestId('session-proj').count()).toBe(1)
    expect(new URL(page.url()).pathname).toBe('/')
  })

  it('offers "Update available" when a new worker waits, and reloads into it on a tap', async () => {
    await phone()
    await openControlled()
    const before = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.scriptURL)
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1))

    // A new release: any byte changed in sw.js makes the browser install it and leave it waiting.
    appendFileSync(join(webRoot, 'sw.js'), `\n// release ${Date.now()}\n`)
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update())
    await expect.poll(() => page.getByTestId('update-banner').isVisible(), POLL).toBe(true)
    expect(await page.getByTestId('update-banner').textContent()).toContain('Update available')
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting !== null)).toBe(true)

    await page.getByTestId('update-reload').click()
    // The page reloaded (the marker is gone) under the new worker, and nothing waits any more.
    await expect.poll(() => page.evaluate(() => (window as unknown as { marker?: number }).marker ?? 0).catch(() => 1), POLL).toBe(0)
    await expect.poll(() => page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting ?? null), POLL).toBe(null)
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.scriptURL)).toBe(before)
    await expect.poll(() => page.getByTestId('session-proj').count(), POLL).toBe(1)
    expect(await page.getByTestId('update-banner').count()).toBe(0)
    expect(problems).toEqual([])
  })
})

describe('device settings', () => {
  it('asks for the passkey again after the app was in the background long enough, and unlocks with it', async () => {
    await phone()
    await page.goto(`${server!.url}/t/proj/0`)
    await expect.poll(() => page.getByTestId('status').getAttribute('data-state'), POLL).toBe('live')
    await givePasskey()
    // 0.005 min = 300 ms (the menu offers 1-60 min; storage takes any number).
    await page.evaluate(() => localStorage.setItem('handoff.lockAfterMinutes', '0.005'))

    // Hidden briefly: no lock.
    await setVisibility('hidden')
    await setVisibility('visible')
    expect(await page.getByTestId('lock-screen').count()).toBe(0)

    await setVisibility('hidden')
    await page.waitForTimeout(400) // the one sleep: the lock is about time passing in the background
    await setVisibility('visible')
    await expect.poll(() => page.getByTestId('lock-screen').isVisible(), POLL).toBe(true)
    // Nothing under the cover can be used.
    expect(await page.evaluate(() => document.getElementById('app')!.inert)).toBe(true)

    await page.getByTestId('unlock-button').click()
    await expect.poll(() => page.getByTestId('lock-screen').count(), POLL).toBe(0)
    expect(await page.evaluate(() => document.getElementById('app')!.inert)).toBe(false)
    expect(await page.getByTestId('status').getAttribute('data-state')).toBe('live')

    // Reopened after long enough (the app was closed in the background): locked before anything shows.
    await page.evaluate(() => localStorage.setItem('handoff.hiddenAt', String(Date.now() - 60_000)))
    await page.reload()
    await expect.poll(() => page.getByTestId('lock-screen').isVisible(), POLL).toBe(true)
    expect(problems).toEqual([])
  })

  it('offers the lock setting off, 1, 5, 15 and 60 minutes, stored on this phone', async () => {
    await phone()
    await page.goto(server!.url)
    await page.getByTestId('lock-setting').selectOption('15')
    expect(await page.evaluate(() => localStorage.getItem('handoff.lockAfterMinutes'))).toBe('15')
    expect(await page.getByTestId('lock-setting').locator('option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual([
      '0', '1', '5', '15', '60',
    ])
    await page.getByTestId('lock-setting').selectOption('0')
    expect(await page.evaluate(() => localStorage.getItem('handoff.lockAfterMinutes'))).toBe(null)
  })

  it('kills a window only after confirmation, and creates windows that open at once', async () => {
    await phone()
    await page.goto(server!.url)
    await page.getByTestId('session-proj').click()
    await page.getByTestId('kill-window-1').click()
    await page.getByTestId('confirm-yes').click()
    await expect.poll(() => tmux.run('list-windows', '-t', 'proj', '-F', '#{window_index}').trim(), POLL).toBe('0')
    await expect.poll(() => page.getByTestId('window-1').count(), POLL).toBe(0)

    await page.getByTestId('new-window').click()
    await expect.poll(() => tmux.run('list-windows', '-t', 'proj', '-F', '#{window_index}').trim().split('\n').length, POLL).toBe(2)
    await expect.poll(() => new URL(page.url()).pathname, POLL).toBe('/t/proj/1')
    expect(problems).toEqual([])
  })

  it('shows a read-only phone no destructive control', async () => {
    await phone({ readOnly: true })
    await page.goto(server!.url)
    await page.getByTestId('session-proj').click()
    await expect.poll(() => page.getByTestId('window-1').count(), POLL).toBe(1)
    expect(await page.getByTestId('readonly-badge').count()).toBe(1)
    for (const id of ['kill-window-0', 'kill-window-1', 'kill-session', 'new-window']) expect(await page.getByTestId(id).count(), id).toBe(0)
    expect(await page.getByTestId('new-session-submit').isDisabled()).toBe(true)
    expect(problems).toEqual([])
  })
})
