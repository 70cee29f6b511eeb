import { describe, expect, it } from 'vitest'
import { useBrowserHarness } from './support/browser.js'

// Programs that set a terminal mode before the phone opens the window, then
// show what they read: the phone must behave exactly as a direct attach would.
const POLL = { timeout: 15_000 }
const TEST_TIMEOUT_MS = 60_000

const b = useBrowserHarness({ viewport: { width: 1000, height: 800 }, mobile: false, expectNoProblems: true })

/** A session whose one pane runs `script` (sh). */
const session = (name: string, script: string) => b.tmux.newSession(name, script)
const pane = (target: string) => b.tmux.capture(target)
const rows = () => b.page.$$eval('[data-testid=terminal] .xterm-rows > div', (divs) => divs.map((d) => d.textContent ?? ''))
const screen = async () => (await rows()).join('\n')

/**
 * Opens the terminal at `path` and puts the keyboard's focus in it; with
 * `shows`, first waits until the screen shows it: a program's modes come with
 * its screen, and a key or click before the page has read them would not use them.
 */
async function open(path: string, shows?: string): Promise<void> {
  await b.open(path)
  if (shows !== undefined) await expect.poll(screen, POLL).toContain(shows)
  await b.page.locator('[data-testid=terminal] .xterm-helper-textarea').focus()
}

/** Reads raw bytes and shows them (`cat -v`), after setting terminal modes. */
const echoModes = (modes: string) => `stty raw -echo; printf '${modes}ready\\r\\n'; exec cat -v`

describe('full-screen programs and terminal modes, as on a direct attach', () => {
  it(
    'shows the alternate screen a program was on, and the normal screen when it leaves',
    async () => {
      session('alt', `printf 'normal-before\\n'; printf '\\033[?1049h\\033[2J\\033[Halt-content'; read x; printf '\\033[?1049l'; echo after-alt; exec cat`)
      await expect.poll(() => pane('alt:0'), POLL).toContain('alt-content')
      await open('/t/alt/0')
      await expect.poll(screen, POLL).toContain('alt-content')
      expect(await screen()).not.toContain('normal-before')
      await b.page.keyboard.press('Enter')
      await expect.poll(screen, POLL).toContain('after-alt')
      // The normal screen as tmux has it (typing may have given the window the phone's size meanwhile).
      const trimmed = (lines: string[]) => lines.map((l) => l.trimEnd()).join('\n').trimEnd()
      await expect.poll(async () => trimmed(await rows()), POLL).toBe(trimmed(pane('alt:0').split('\n')))
      expect(await screen()).not.toContain('alt-content')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'sends application cursor keys when the program asked before the phone came',
    async () => {
      session('keys', echoModes('\\033[?1h\\033='))
      await expect.poll(() => pane('keys:0'), POLL).toContain('ready')
      await open('/t/keys/0', 'ready')
      await b.page.keyboard.press('ArrowUp')
      await b.page.keyboard.press('ArrowLeft')
      await expect.poll(() => pane('keys:0'), POLL).toContain('^[OA^[OD')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'reports mouse clicks in the encoding the program asked for, at the pane\'s own cells',
    async () => {
      session('mouse', echoModes('\\033[?1000h\\033[?1006h'))
      await expect.poll(() => pane('mouse:0'), POLL).toContain('ready')
      await open('/t/mouse/0', 'ready')
      const box = (await b.page.locator('[data-testid=terminal] .xterm-screen').boundingBox())!
      // Column 11, row 6 (1-based) of the 120x30 pane.
      await b.page.mouse.click(box.x + (10.5 * box.width) / 120, box.y + (5.5 * box.height) / 30)
      await expect.poll(() => pane('mouse:0'), POLL).toContain('^[[<0;11;6M^[[<0;11;6m')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'brackets a paste when the program asked for bracketed paste before the phone came',
    async () => {
      session('paste', echoModes('\\033[?2004h'))
      await expect.poll(() => pane('paste:0'), POLL).toContain('ready')
      await open('/t/paste/0', 'ready')
      await b.page.locator('[data-testid=terminal] .xterm-helper-textarea').evaluate((textarea) => {
        const data = new DataTransfer()
        data.setData('text/plain', 'pasted words')
        textarea.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
      })
      await expect.poll(() => pane('paste:0'), POLL).toContain('^[[200~pasted words^[[201~')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'runs vim and less: drawn as they are, typed into, left',
    async () => {
      b.tmux.newSession('edit')
      b.tmux.run('send-keys', '-t', 'edit:0', 'seq 1 500 > /tmp/handoff-modes-$$.txt; vim -u NONE -N /tmp/handoff-modes-$$.txt', 'Enter')
      await expect.poll(() => pane('edit:0'), POLL).toMatch(/^1\s*$/m)
      await open('/t/edit/0')
      await expect.poll(async () => (await rows())[0]?.trim(), POLL).toBe('1')
      await b.page.keyboard.type('Gddggiadded-by-phone ')
      await b.page.keyboard.press('Escape')
      await expect.poll(async () => (await rows())[0], POLL).toContain('added-by-phone 1')
      await b.page.keyboard.type(':q!')
      await b.page.keyboard.press('Enter')
      await expect.poll(() => b.tmux.run('display-message', '-p', '-t', 'edit:0', '#{alternate_on}').trim(), POLL).toBe('0')
      await expect.poll(screen, POLL).not.toContain('added-by-phone')

      b.tmux.run('send-keys', '-t', 'edit:0', 'seq 1 500 | less', 'Enter')
      await expect.poll(screen, POLL).toMatch(/^1\s*$/m)
      await b.page.keyboard.press('End')
      await b.page.keyboard.press('G')
      await expect.poll(screen, POLL).toContain('500')
      await b.page.keyboard.press('q')
      await expect.poll(() => b.tmux.run('display-message', '-p', '-t', 'edit:0', '#{pane_current_command}').trim(), POLL).not.toBe('less')
    },
    TEST_TIMEOUT_MS,
  )
})

describe('windows with several panes', () => {
  it(
    'shows one pane at a time or all of them, types into the pane shown, and never zooms the desktop',
    async () => {
      b.tmux.newSession('split')
      b.tmux.run('split-window', '-h', '-t', 'split:0')
      b.tmux.run('select-pane', '-t', 'split:0.0')
      b.tmux.run('send-keys', '-t', 'split:0.0', 'echo left-pane', 'Enter')
      b.tmux.run('send-keys', '-t', 'split:0.1', 'echo right-pane', 'Enter')
      const [left, right] = b.tmux.run('list-panes', '-t', 'split:0', '-F', '#{pane_id}').trim().split('\n').map((id) => id.slice(1))
      await open('/t/split/0')
      await expect.poll(() => b.page.getByTestId('pane-bar').isVisible(), POLL).toBe(true)
      // The header names the real session and window, as tmux does.
      await expect.poll(() => b.page.locator('.terminal-title').textContent(), POLL).toMatch(/^split:0 /)
      // The active pane first.
      await expect.poll(screen, POLL).toContain('left-pane')
      await b.page.keyboard.type('echo typed-left\r')
      await expect.poll(() => pane('split:0.0'), POLL).toContain('typed-left')

      await b.page.getByTestId(`pane-${right}`).click()
      await expect.poll(screen, POLL).toContain('right-pane')
      await b.page.locator('[data-testid=terminal] .xterm-helper-textarea').focus()
      await b.page.keyboard.type('echo typed-right\r')
      await expect.poll(() => pane('split:0.1'), POLL).toContain('typed-right')
      expect(pane('split:0.0')).not.toContain('typed-right')

      await b.page.getByTestId('pane-all').click()
      await expect.poll(() => b.page.getByTestId('pane-overview').isVisible(), POLL).toBe(true)
      const overview = () => b.page.getByTestId('pane-overview').textContent()
      await expect.poll(overview, POLL).toContain('typed-left')
      await expect.poll(overview, POLL).toContain('typed-right')
      await b.page.getByTestId(`pane-box-${left}`).click()
      await expect.poll(() => b.page.getByTestId('pane-overview').isVisible(), POLL).toBe(false)
      await expect.poll(screen, POLL).toContain('typed-left')

      // The phone showed one pane alone: the desktop's window never was zoomed, nor its active pane changed.
      expect(b.tmux.run('display-message', '-p', '-t', 'split:0', '#{window_zoomed_flag} #{pane_id}').trim()).toBe(`0 %${left}`)
    },
    TEST_TIMEOUT_MS,
  )
})
