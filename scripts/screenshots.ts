// Regenerates docs/screenshots/*.png: every screen of the web app at phone
// size (390×844 CSS px, 2× pixels), from the real server over a private tmux
// server with a few sessions, in headless Chromium. `npm run screenshots`
// (builds first). Needs /usr/bin/chromium (HANDOFF_CHROMIUM overrides it).
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { hashPairingSecret, newPairingSecret } from '../server/auth/index.js'
import { appendEvent } from '../server/events/index.js'
import { startServer, type RunningServer } from '../server/index.js'
import { newDeviceId, updateDevices } from '../server/store/index.js'
import { addSignedInDevice } from '../tests/support/device.js'
import { pointOfText } from '../tests/support/screen.js'
import { Touch } from '../tests/support/touch.js'
import { PrivateTmux, tempHome } from '../tests/support/tmux.js'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../tests/support/chromium.js'

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
const DIST_WEB = fileURLToPath(new URL('../web/', import.meta.url))
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const
const WAIT_MS = 15_000
const log = (line: string) => process.stderr.write(`screenshots: ${line}\n`)

/** What the panes show: an assistant's summary (it sets the pane title), a server log, git. */
function seedTmux(tmux: PrivateTmux, dir: string): void {
  const script = (name: string, body: string) => {
    const path = join(dir, `${name}.sh`)
    writeFileSync(path, `${body}\nexec sh\n`)
    return `sh ${path}`
  }
  const claude = script(
    'claude',
    [
      "printf '\\033]2;Claude Code\\033\\\\'",
      "printf '\\033[1;36m●\\033[0m I reviewed src/sessions.ts and ran the tests.\\n\\n'",
      "printf '  \\033[32m✓\\033[0m 42 tests passed \\033[2m(3.1 s)\\033[0m\\n'",
      "printf '  \\033[33m!\\033[0m 1 snapshot updated\\n\\n'",
      "for i in 1 2 3 4 5 6 7 8; do printf '  \\033[2m%02d\\033[0m  src/file-%d.ts  \\033[32m+%d\\033[0m \\033[31m-%d\\033[0m\\n' $i $i $((i*7)) $i; done",
      "printf '\\nShall I commit these changes? \\033[2m(y/n)\\033[0m\\n'",
    ].join('\n'),
  )
  tmux.newSession('main', '-n', 'claude', claude)
  tmux.run('new-window', '-d', '-t', 'main:1', '-n', 'server', script('server', "printf 'listening on http://localhost:3000\\n'"))
  tmux.run('new-window', '-d', '-t', 'main:2', '-n', 'git', script('git', "printf 'a1b2c3d Sessions list with windows\\n'"))
  tmux.newSession('notes')
}

async function shoot(page: Page, name: string): Promise<void> {
  // Let fonts, transitions and the caret settle.
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(OUT, `${name}.png`) })
  log(`${name}.png`)
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true })
  const tmux = new PrivateTmux()
  const { home, remove } = tempHome()
  // A copy of the build, so the update prompt can be shown by changing its worker.
  const webRoot = mkdtempSync(join(tmpdir(), 'handoff-shots-'))
  cpSync(DIST_WEB, webRoot, { recursive: true })
  const scripts = mkdtempSync(join(tmpdir(), 'handoff-panes-'))
  let server: RunningServer | undefined
  const browser = await chromium.launch({
    executablePath: process.env.HANDOFF_CHROMIUM ?? CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  })
  const contexts: BrowserContext[] = []
  const newPage = async (cookie?: string) => {
    const context = await browser.newContext(PHONE)
    contexts.push(context)
    if (cookie) await context.addCookies([{ name: 'handoff', value: cookie, domain: 'localhost', path: '/', httpOnly: true, sameSite: 'Strict' }])
    const page = await context.newPage()
    page.setDefaultTimeout(WAIT_MS)
    page.on('pageerror', (error) => log(`page error: ${error.message}`))
    return page
  }
  try {
    seedTmux(tmux, scripts)
    server = await startServer({ port: 0, tmuxSocket: tmux.socket, home, webRoot, log: () => {} })
    const url = server.url

    // Sign-in: a phone whose sign-in has ended.
    const signedOut = await newPage()
    await signedOut.goto(url)
    await signedOut.getByTestId('signin-button').waitFor()
    await shoot(signedOut, 'sign-in')

    // Pairing: the grant a fresh link offers, as `handoff pair` leaves it.
    const secret = newPairingSecret()
    const now = Date.now()
    await updateDevices(home, (devices) => [
      ...devices,
      {
        id: newDeviceId(),
        name: 'Pixel 8',
        status: 'pending',
        sessions: 'main,notes',
        readOnly: false,
        createdAt: now,
        expiresAt: now + 30 * 24 * 60 * 60_000,
        lastSeenAt: null,
        renewalRequestedAt: null,
        credential: null,
        tailnetUser: null,
        tailnetNode: null,
        generation: 1,
        suspect: false,
        pairing: { secretHash: hashPairingSecret(secret), expiresAt: now + 5 * 60_000, state: 'waiting', challenge: null },
      },
    ])
    const pairing = await newPage()
    await pairing.goto(`${url}/pair#${secret}`)
    await pairing.getByTestId('pair-create').waitFor()
    await shoot(pairing, 'pairing-grant')

    // Sessions, with one session open.
    const { token } = await addSignedInDevice(home, url, { name: 'iPhone 15 · Safari' })
    const page = await newPage(token)
    await page.goto(url)
    await page.getByTestId('session-main').click()
    await page.getByTestId('window-2').waitFor()
    await shoot(page, 'sessions')

    await page.getByTestId('kill-window-2').click()
    await page.getByTestId('confirm-dialog').waitFor()
    await shoot(page, 'kill-confirmation')
    await page.getByTestId('confirm-cancel').click()

    // Terminal.
    await page.getByTestId('window-0').click()
    await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.getAttribute('data-state') === 'live')
    await page.waitForFunction(() => document.querySelector('.xterm-rows')?.textContent?.includes('Shall I commit'))
    await shoot(page, 'terminal')

    // Answer buttons: an event with choices for the tab on screen, as Claude Code's hook or a notification's tap brings them.
    await appendEvent(home, {
      type: 'notify',
      title: 'Claude Code',
      message: 'Shall I commit these changes?',
      tmux_session: 'main',
      tmux_window: 0,
      tmux_pane: tmux.run('display-message', '-p', '-t', 'main:0', '#{pane_id}').trim(),
      choices: [
        { label: 'Yes', keys: 'y<Enter>' },
        { label: 'No', keys: 'n<Enter>' },
      ],
    })
    await page.getByTestId('answer-bar').waitFor()
    await shoot(page, 'answer-buttons')
    await page.getByTestId('answer-dismiss').click()

    // Reader mode, where the terminal has it.
    if ((await page.getByTestId('reader-open').count()) > 0) {
      await page.getByTestId('reader-open').click()
      await page.getByTestId('reader').waitFor()
      await shoot(page, 'reader')
      await page.getByTestId('reader-close').click()
    }

    // Selection: a long-press on a word, its two handles and the bar.
    const touch = new Touch(await page.context().newCDPSession(page))
    const cols = Number(tmux.run('display-message', '-p', '-t', 'main:0', '#{pane_width}').trim())
    await touch.press(await pointOfText(page, 'reviewed src/sessions.ts', 3, cols), 700)
    await page.getByTestId('selection-bar').waitFor()
    await shoot(page, 'selection')
    await page.getByTestId('select-cancel').click()

    // The desktop-size view: readable text, panned sideways.
    await page.getByTestId('menu-open').click()
    await page.getByTestId('size-desktop').click()
    await page.getByTestId('menu-open').click()
    await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.getAttribute('data-state') === 'live')
    const host = (await page.getByTestId('terminal').boundingBox())!
    await touch.swipe({ x: host.x + host.width / 2, y: host.y + host.height / 2 }, -70, 0, { hold: true })
    await shoot(page, 'desktop-panned')
    await page.getByTestId('menu-open').click()
    await page.getByTestId('size-fit').click()
    await page.getByTestId('menu-open').click()

    // Landscape with the soft keyboard up: about 844×210 left for the page.
    await page.setViewportSize({ width: 844, height: 390 })
    await page.setViewportSize({ width: 844, height: 210 })
    await page.getByTestId('chrome-tab').waitFor()
    await shoot(page, 'landscape-keyboard')
    await page.setViewportSize(PHONE.viewport)

    // The rest over the sessions list.
    await page.goto(url)
    await page.getByTestId('session-main').waitFor()

    // The inbox: events as `handoff notify` and the Claude Code hooks write them, newest first.
    await appendEvent(home, { type: 'error', title: 'CI', message: 'lint failed in src/sessions.ts' })
    await appendEvent(home, { type: 'stop', message: 'Build finished: 42 tests passed', tmux_session: 'main', tmux_window: 1 })
    await appendEvent(home, { type: 'notify', title: 'Claude Code', message: 'Claude needs your permission to use Bash', tmux_session: 'main', tmux_window: 0 })
    await page.getByTestId('session-main').getByTestId('unseen').waitFor()
    await page.getByTestId('inbox-open').click()
    await page.getByTestId('inbox-item').nth(2).waitFor()
    await shoot(page, 'inbox')
    await page.getByTestId('inbox-back').click()
    await page.getByTestId('session-main').waitFor()

    // Locked on resume.
    await page.evaluate(() => {
      localStorage.setItem('handoff.lockAfterMinutes', '5')
      localStorage.setItem('handoff.hiddenAt', String(Date.now() - 10 * 60_000))
    })
    await page.reload()
    await page.getByTestId('lock-screen').waitFor()
    await shoot(page, 'locked')
    await page.evaluate(() => {
      localStorage.removeItem('handoff.lockAfterMinutes')
      localStorage.removeItem('handoff.hiddenAt')
    })

    // Offline: the computer is unreachable; the shell comes from the service worker.
    const { port } = server
    await server.close()
    server = undefined
    await page.reload()
    await page.getByTestId('last-known').waitFor()
    await shoot(page, 'offline')

    // Update available (a changed worker, as a new release would bring), once the computer is back.
    server = await startServer({ port, tmuxSocket: tmux.socket, home, webRoot, log: () => {} })
    await page.getByTestId('offline-retry').click()
    await page.getByTestId('session-main').waitFor()
    appendFileSync(join(webRoot, 'sw.js'), `\n// screenshot release ${Date.now()}\n`)
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update())
    await page.getByTestId('update-banner').waitFor()
    await page.getByTestId('session-main').waitFor()
    await shoot(page, 'update-available')
  } finally {
    for (const context of contexts) await context.close().catch(() => {})
    await browser.close()
    await server?.close()
    tmux.kill()
    remove()
    rmSync(webRoot, { recursive: true, force: true })
    rmSync(scripts, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`screenshots failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
