import type { BrowserContext } from 'playwright-core'
import { addSignedInDevice, type TestDevice } from './device.js'

/** Debian's Chromium; the tests never download a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/**
 * Headless Chromium as this machine needs it: no sandbox (root), no
 * background networking (the network is closed), and no GPU or 3D APIs, so
 * xterm.js falls back to its DOM renderer and a test can read the screen's
 * text from `.xterm-rows`.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-3d-apis',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Signs the browser context in as a new paired device (the passkey ceremony itself: pairing-browser.test.ts). */
export async function signInContext(
  context: BrowserContext,
  home: string,
  origin: string,
  grant: Parameters<typeof addSignedInDevice>[2] = {},
): Promise<TestDevice> {
  const device = await addSignedInDevice(home, origin, grant)
  const { hostname } = new URL(origin)
  await context.addCookies([{ name: 'handoff', value: device.token, domain: hostname, path: '/', httpOnly: true, sameSite: 'Strict' }])
  return device
}
