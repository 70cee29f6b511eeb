import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Page } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'
import { PairCli } from './support/pair-cli.js'

// The whole pairing as a user does it: the real `handoff pair` in a pty, the
// real server, real tmux, and Chromium with a virtual passkey authenticator.
// Needs the build (`npx tsc -p tsconfig.build.json && npx vite build`).

const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))
const run = promisify(execFile)
const FLOW_TIMEOUT_MS = 60_000
const POLL = { timeout: 15_000, interval: 100 }
/** The link `handoff pair` prints; the secret is in the fragment. */
const PAIR_URL = /http:\/\/localhost:\d+\/pair#[A-Za-z0-9_~.%-]+/
const SIX_DIGITS = /^\d{6}$/
/** The one grant question the flags below leave open. */
const READ_ONLY_QUESTION = /read-only.*\(y\/N\)/i

// Sessions `main` and `other`; a phone not signed in (a browser window of a
// phone's size) with a platform passkey authenticator that verifies the user.
// `b.problems` holds the page errors and CSP refusals of every phone.
const b = useBrowserHarness({ sessions: ['main', 'other'], signedIn: false, passkeys: true, mobile: false })
const clis: PairCli[] = []

// Before the harness stops: a CLI still waiting for its code goes first.
afterEach(async () => {
  for (const cli of clis.splice(0)) {
    cli.kill()
    await cli.exited
  }
})

/** The CLI's environment: this test's HANDOFF_HOME, private tmux and server port. */
const cliEnv = (): Record<string, string> => ({
  HANDOFF_HOME: b.home,
  HANDOFF_TMUX_SOCKET: b.tmux.socket,
  HANDOFF_PORT: String(b.server.port),
})

/** Starts `handoff pair` for `main` only and waits for the link it prints. */
async function startPairing(extra: string[] = [], name = 'test-phone'): Promise<{ cli: PairCli; url: string }> {
  const cli = new PairCli(['--sessions', 'main', '--expires', '7d', '--name', name, ...extra], cliEnv())
  clis.push(cli)
  const settled = () => PAIR_URL.test(cli.text()) || cli.exitCode !== undefined
  // No flag says read-write, so it asks; Enter takes the default (no: full control).
  await expect.poll(() => settled() || READ_ONLY_QUESTION.test(cli.text()), POLL).toBe(true).catch(() => {})
  if (!settled() && READ_ONLY_QUESTION.test(cli.text())) cli.type('\r')
  await expect.poll(settled, POLL).toBe(true).catch(() => {})
  const url = PAIR_URL.exec(cli.text())?.[0]
  if (!url) throw new Error(`handoff pair printed no link (exit ${cli.exitCode ?? 'still running'}):\n${cli.text()}`)
  return { cli, url }
}

/** Opens the link, creates the passkey and returns the code the page shows. */
async function registerPasskey(page: Page, url: string): Promise<string> {
  await page.goto(url)
  await page.getByTestId('pair-create').click()
  await expect.poll(() => page.getByTestId('pair-code').count(), POLL).toBe(1)
  const code = (await page.getByTestId('pair-code').textContent())?.trim() ?? ''
  expect(code).toMatch(SIX_DIGITS)
  return code
}

/** How many times the CLI has refused a typed code. */
const wrongCodes = (cli: PairCli) => cli.text().match(/wrong code/gi)?.length ?? 0

/** The device records in HANDOFF_HOME/devices.json (none when the file does not exist). */
function storedDevices(): Record<string, unknown>[] {
  const path = join(b.home, 'devices.json')
  if (!existsSync(path)) return []
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'))
  const list = Array.isArray(parsed) ? parsed : (parsed as { devices?: unknown }).devices
  return Array.isArray(list) ? (list as Record<string, unknown>[]) : []
}

const screenText = (page: Page) => page.locator('.xterm-rows').textContent()
const connectionState = (page: Page) => page.getByTestId('status').getAttribute('data-state')

describe('pairing a phone', () => {
  it(
    'pairs with a passkey and the typed code, signs in, and reaches only the granted session',
    async () => {
      const { cli, url } = await startPairing()
      const { page } = b

      await page.goto(url)
      // The secret leaves the address bar at once.
      expect(new URL(page.url()).pathname).toBe('/pair')
      expect(new URL(page.url()).hash).toBe('')
      await expect.poll(() => page.getByTestId('pair-grant').textContent(), POLL).toContain('main')

      await page.getByTestId('pair-create').click()
      await expect.poll(() => page.getByTestId('pair-code').count(), POLL).toBe(1)
      const code = (await page.getByTestId('pair-code').textContent())?.trim() ?? ''
      expect(code).toMatch(SIX_DIGITS)

      cli.type(`${code}\r`)
      expect(await cli.exited).toBe(0)
      expect(cli.text()).toMatch(/paired "test-phone"|active/i)
      expect(storedDevices().filter((d) => d.status === 'active').map((d) => d.name)).toEqual(['test-phone'])

      // The page signs in by itself and lands on the sessions list: main, not other.
      await expect.poll(() => page.getByTestId('session-main').count(), POLL).toBe(1)
      expect(new URL(page.url()).pathname).toBe('/')
      expect(await page.getByTestId('session-other').count()).toBe(0)
      expect(await page.getByTestId('readonly-badge').count()).toBe(0)

      await page.getByTestId('session-main').click()
      await page.getByTestId('window-0').click()
      await expect.poll(() => connectionState(page), POLL).toBe('live')
      await page.getByTestId('terminal').click()
      await page.keyboard.type('echo paired-$((6*7))')
      await page.keyboard.press('Enter')
      await expect.poll(() => b.tmux.capture('main:0'), POLL).toContain('paired-42')
      await expect.poll(() => screenText(page), POLL).toContain('paired-42')
      expect(b.problems).toEqual([])
    },
    FLOW_TIMEOUT_MS,
  )

  it(
    'signs in again with the passkey after signing out, back to the deep link it was opened at',
    async () => {
      const { cli, url } = await startPairing()
      const { page } = b
      cli.type(`${await registerPasskey(page, url)}\r`)
      expect(await cli.exited).toBe(0)
      await expect.poll(() => page.getByTestId('session-main').count(), POLL).toBe(1)

      await page.getByTestId('signout').click()
      await expect.poll(() => page.getByTestId('signin-button').count(), POLL).toBe(1)
      await page.goto(`${b.server.url}/t/main/0`)
      await expect.poll(() => page.getByTestId('signin-button').count(), POLL).toBe(1)
      expect(new URL(page.url()).pathname).toBe('/t/main/0')

      await page.getByTestId('signin-button').click()
      await expect.poll(() => connectionState(page), POLL).toBe('live')
      expect(new URL(page.url()).pathname).toBe('/t/main/0')
      expect(b.problems).toEqual([])
    },
    FLOW_TIMEOUT_MS,
  )

  it(
    'cancels after three wrong codes and leaves no trace of the device',
    async () => {
      const { cli, url } = await startPairing()
      const { page } = b
      const code = await registerPasskey(page, url)
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0')

      // Each code goes in only once the CLI has refused the last, as a person types.
      for (let attempt = 1; attempt <= 2; attempt++) {
        cli.type(`${wrong}\r`)
        await expect.poll(() => wrongCodes(cli), POLL).toBe(attempt)
      }
      cli.type(`${wrong}\r`)
      expect(await cli.exited).not.toBe(0)

      await expect.poll(() => page.getByTestId('pair-ended').count(), POLL).toBe(1)
      expect(await page.getByTestId('pair-code').count()).toBe(0)
      expect(storedDevices()).toEqual([])
      expect(existsSync(join(b.home, 'devices.json')) ? readFileSync(join(b.home, 'devices.json'), 'utf8') : '').not.toContain(
        'test-phone',
      )
      expect(b.problems).toEqual([])
    },
    FLOW_TIMEOUT_MS,
  )

  it(
    'burns the pairing when a second phone registers on the same link',
    async () => {
      const { cli, url } = await startPairing()
      const first = b
      const second = await b.newPhone()
      const code = await registerPasskey(first.page, url)

      await second.page.goto(url)
      await second.page.getByTestId('pair-create').click()
      await expect.poll(() => second.page.getByTestId('pair-ended').count(), POLL).toBe(1)
      expect(await second.page.getByTestId('pair-code').count()).toBe(0)

      // The first phone learns it too, and the terminal warns.
      await expect.poll(() => first.page.getByTestId('pair-ended').count(), POLL).toBe(1)
      await expect.poll(() => cli.text(), POLL).toMatch(/two devices|used again|burn|twice/i)
      // Even the right code cannot make a device of it now.
      if (cli.exitCode === undefined) cli.type(`${code}\r`)
      expect(await cli.exited).not.toBe(0)
      expect(storedDevices().filter((d) => d.status === 'active')).toEqual([])
      // A burned pairing, like a cancelled one, leaves nothing behind.
      expect.soft(storedDevices()).toEqual([])
      // Both phones' problems.
      expect(b.problems).toEqual([])
    },
    FLOW_TIMEOUT_MS,
  )

  it(
    'shows a read-only phone as such, and sends it to sign-in when it is revoked mid-terminal',
    async () => {
      const { cli, url } = await startPairing(['--read-only'], 'ro-phone')
      const { page } = b
      await page.goto(url)
      await expect.poll(() => page.getByTestId('pair-grant').locator('[data-readonly]').count(), POLL).toBe(1)
      await page.getByTestId('pair-create').click()
      await expect.poll(() => page.getByTestId('pair-code').count(), POLL).toBe(1)
      cli.type(`${(await page.getByTestId('pair-code').textContent())?.trim()}\r`)
      expect(await cli.exited).toBe(0)

      await expect.poll(() => page.getByTestId('readonly-badge').count(), POLL).toBe(1)
      expect(await page.getByTestId('new-session-submit').isDisabled()).toBe(true)
      await page.goto(`${b.server.url}/t/main/0`)
      await expect.poll(() => connectionState(page), POLL).toBe('live')
      expect(await page.getByTestId('readonly-badge').count()).toBe(1)

      const revoke = await run(process.execPath, [BIN, 'revoke', 'ro-phone'], { env: { ...process.env, ...cliEnv() } })
      expect(revoke.stderr + revoke.stdout).toContain('ro-phone')
      // The server closes the socket with 4403; the page does not reconnect but asks to sign in.
      await expect.poll(() => page.getByTestId('signin-button').count(), POLL).toBe(1)
      expect(await page.getByTestId('notice').count()).toBe(1)
      expect(b.problems).toEqual([])
    },
    FLOW_TIMEOUT_MS,
  )

  it('refuses a link that is not a live pairing, well-formed or mangled', async () => {
    const { page } = b
    // 43 base64url characters, as a real secret, but no pairing has it.
    for (const secret of ['A'.repeat(43), 'cut-off']) {
      await page.goto(`${b.server.url}/pair#${secret}`)
      await expect.poll(() => page.getByTestId('pair-ended').count(), POLL).toBe(1)
      expect(new URL(page.url()).hash).toBe('')
      expect(await page.getByTestId('pair-create').count()).toBe(0)
    }
    expect(b.problems).toEqual([])
  })

  it('sends a page opened at 127.0.0.1 to localhost, which WebAuthn accepts as a name', async () => {
    const { page } = b
    await page.goto(`http://127.0.0.1:${b.server.port}/pair#some-secret`)
    await expect.poll(() => page.getByTestId('pair-ended').textContent(), POLL).toContain(`http://localhost:${b.server.port}`)
    expect(new URL(page.url()).hash).toBe('')
    expect(b.problems).toEqual([])
  })

  it('shows the sign-in screen, not the app, to a phone that is not signed in', async () => {
    const { page } = b
    await page.goto(`${b.server.url}/t/main/0`)
    await expect.poll(() => page.getByTestId('signin-button').count(), POLL).toBe(1)
    expect(await page.getByTestId('terminal').count()).toBe(0)
    expect(new URL(page.url()).pathname).toBe('/t/main/0')
    expect(b.problems).toEqual([])
  })
})
