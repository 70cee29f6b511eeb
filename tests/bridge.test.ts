import * as pty from 'node-pty'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addSignedInDevice } from './support/device.js'
import { startHarness, type Harness } from './support/server.js'
import { TermClient } from './support/term.js'

let h: Harness
const open: TermClient[] = []
const desktops: pty.IPty[] = []
beforeEach(async () => {
  h = await startHarness()
})
afterEach(async () => {
  for (const c of open.splice(0)) c.ws.terminate()
  for (const d of desktops.splice(0)) d.kill()
  await h.stop()
})

const term = async (path: string, options: Parameters<typeof TermClient.open>[2] = {}) => {
  const c = await TermClient.open(h.server.port, path, { cookie: h.device.cookie, ...options })
  open.push(c)
  return c
}

/** An ordinary tmux client, as the desktop's terminal would be. */
function desktop(session: string, cols = 100, rows = 30): pty.IPty {
  const env = { ...process.env, TERM: 'xterm-256color' } as Record<string, string>
  delete env.TMUX
  const d = pty.spawn('tmux', ['-L', h.tmux.socket, 'attach', '-t', session], { cols, rows, env })
  desktops.push(d)
  return d
}

const sessionNames = () => h.tmux.run('list-sessions', '-F', '#{session_name}').trim().split('\n').filter(Boolean)
const windowSize = (target: string) => h.tmux.run('display-message', '-p', '-t', target, '#{window_width}x#{window_height}').trim()
const refusal = (p: Promise<unknown>) => p.then(() => ({ status: 0, code: '' }), (e: { status?: number; body?: string }) => ({
  status: e.status ?? -1,
  code: (JSON.parse(e.body ?? '{}') as { error?: { code?: string } }).error?.code ?? '',
}))

describe('terminal stream', () => {
  it('types into the pane and reads the output back', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0?cols=100&rows=30')
    await expect.poll(() => c.panes.length).toBe(1)
    c.type('echo hi-$((40+2))\r')
    await expect.poll(() => c.text(), { timeout: 10_000 }).toContain('hi-42')
    expect(h.tmux.capture('main:0')).toContain('hi-42')
  })

  it('starts from the screen as it is, with the history asked for', async () => {
    h.tmux.newSession('main')
    h.tmux.run('send-keys', '-t', 'main:0', 'clear; seq 1 200; printf "\\033[1;31mred\\033[0m last"', 'Enter')
    await expect.poll(() => h.tmux.capture('main:0')).toContain('red last')
    const c = await term('/api/term/main/0?history=100')
    await expect.poll(() => c.screenText().join('\n'), { timeout: 10_000 }).toContain('red last')
    await c.settle()
    // The phone's screen is tmux's, row for row.
    const tmuxRows = h.tmux.capture('main:0').split('\n').slice(0, 30).map((r) => r.trimEnd())
    expect(c.screenText().map((r) => r.trimEnd())).toEqual(tmuxRows)
    const buffer = c.terminal().buffer.active
    const cursor = h.tmux.run('display-message', '-p', '-t', 'main:0', '#{cursor_x},#{cursor_y}').trim()
    expect(`${buffer.cursorX},${buffer.cursorY}`).toBe(cursor)
    // History above the screen: the 100 lines before it.
    expect(buffer.length).toBe(30 + 100)
  })

  it('sends older history when asked, and says when there is none older', async () => {
    h.tmux.newSession('main')
    h.tmux.run('send-keys', '-t', 'main:0', 'clear; seq 1 500', 'Enter')
    await expect.poll(() => h.tmux.capture('main:0')).toMatch(/^500$/m)
    const c = await term('/api/term/main/0?history=50')
    await expect.poll(() => c.controls.find((f) => f.type === 'sync')).toMatchObject({ kind: 'full', history: 50, more: true })
    const pane = c.panes[0]!.id
    c.control({ type: 'history', pane, lines: 5000 })
    // All tmux has: fewer than asked, and nothing older.
    await expect.poll(() => c.controls.filter((f) => f.type === 'sync').length, { timeout: 10_000 }).toBe(2)
    const second = c.controls.filter((f) => f.type === 'sync')[1]!
    expect(second).toMatchObject({ kind: 'full', more: false })
    expect(second.history).toBeGreaterThan(450)
    await c.settle()
    const buffer = c.terminal().buffer.active
    const lines = Array.from({ length: buffer.length }, (_, y) => buffer.getLine(y)?.translateToString(true))
    // The first number, which the first sync's 50 lines did not reach, is in the scrollback now.
    expect(lines.indexOf('1')).toBeGreaterThanOrEqual(0)
    expect(lines.indexOf('2')).toBe(lines.indexOf('1') + 1)
    c.control({ type: 'history', pane: pane + 1000, lines: 10 })
    await expect.poll(() => c.controls.find((f) => f.type === 'error')).toMatchObject({ code: 'BAD_CONTROL_MESSAGE' })
  })

  it('shows the desktop\'s real names and leaves no trace in tmux while watching and typing', async () => {
    h.tmux.newSession('main')
    h.tmux.run('new-window', '-d', '-t', 'main:', '-n', 'editor')
    const options = () => h.tmux.run('show-options', '-w', '-t', 'main:1') + h.tmux.run('show-options', '-t', 'main')
    const before = options()
    const c = await term('/api/term/main/1?size=desktop')
    await expect.poll(() => c.layout?.window.name).toBe('editor')
    expect(c.layout?.session).toBe('main')
    c.type('tmux display-message -p -t "$TMUX_PANE" "S=#S W=#W"\r')
    await expect.poll(() => c.text(), { timeout: 10_000 }).toContain('S=main W=editor')
    expect(sessionNames()).toEqual(['main'])
    // The session's and window's options are untouched: no marker, no size.
    expect(options()).toBe(before)
    expect(windowSize('main:1')).toBe('120x30')
  })

  it('never moves the desktop while the browser opens and switches windows', async () => {
    h.tmux.newSession('main')
    h.tmux.run('new-window', '-d', '-t', 'main:')
    h.tmux.run('new-window', '-d', '-t', 'main:')
    desktop('main')
    const desktopWindow = () => h.tmux.run('list-clients', '-t', 'main', '-F', '#{client_control_mode} #{window_index}').trim()
    await expect.poll(desktopWindow, { timeout: 10_000 }).toBe('0 0')

    const w1 = await term('/api/term/main/1')
    w1.type('echo on-one\r')
    await expect.poll(() => h.tmux.capture('main:1'), { timeout: 10_000 }).toContain('on-one')
    await w1.close()
    const w2 = await term('/api/term/main/2')
    w2.type('echo on-two\r')
    await expect.poll(() => h.tmux.capture('main:2'), { timeout: 10_000 }).toContain('on-two')
    expect(h.tmux.run('display-message', '-p', '-t', 'main', '#{window_index}').trim()).toBe('0')
    expect(desktopWindow().split('\n')).toContain('0 0')
  })

  it('closes with the reason when the window or the session is killed', async () => {
    h.tmux.newSession('main')
    h.tmux.run('new-window', '-d', '-t', 'main:')
    const onWindow = await term('/api/term/main/1')
    await expect.poll(() => onWindow.panes.length).toBe(1)
    h.tmux.run('kill-window', '-t', 'main:1')
    expect(await onWindow.closed).toEqual({ code: 4404, reason: 'WINDOW_CLOSED' })
    expect(onWindow.controls.at(-1)).toMatchObject({ type: 'exit', code: 'WINDOW_CLOSED' })

    const onSession = await term('/api/term/main/0')
    await expect.poll(() => onSession.panes.length).toBe(1)
    h.tmux.run('kill-session', '-t', 'main')
    expect(await onSession.closed).toEqual({ code: 4404, reason: 'SESSION_CLOSED' })
  })

  it('says TMUX_EXITED when the tmux server goes, and serves the next one', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0')
    await expect.poll(() => c.panes.length).toBe(1)
    h.tmux.kill()
    expect(await c.closed).toEqual({ code: 4500, reason: 'TMUX_EXITED' })
    h.tmux.newSession('again')
    const next = await term('/api/term/again/0')
    next.type('echo back-$((6*7))\r')
    await expect.poll(() => next.text(), { timeout: 10_000 }).toContain('back-42')
  })

  it('lets pastes through tmux, bracketed exactly when the program asked', async () => {
    h.tmux.newSession('main', 'stty raw -echo; printf "\\033[?2004h"; exec cat -v')
    const c = await term('/api/term/main/0')
    await expect.poll(() => c.panes.length).toBe(1)
    c.control({ type: 'paste', text: 'a\nb' })
    // cat -v shows the bytes the program read: the markers, and the line feed turned into a return.
    await expect.poll(() => h.tmux.capture('main:0'), { timeout: 10_000 }).toContain('^[[200~a^Mb^[[201~')
  })

  it('keeps what it holds for a client that never reads bounded, and resumes with the right screen', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0', { ack: false })
    await expect.poll(() => c.received, { timeout: 10_000 }).toBeGreaterThan(0)
    // seq is fast: tmux has far more than the limit to send within moments, even on a loaded machine.
    h.tmux.run('send-keys', '-t', 'main:0', 'seq 1 3000000; echo seq-done', 'Enter')
    await expect.poll(() => h.tmux.capture('main:0'), { timeout: 60_000 }).toContain('seq-done')
    await new Promise((r) => setTimeout(r, 300))
    // The server stopped at the unacknowledged limit plus at most one frame.
    expect(c.received).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024)
    c.ack(c.received)
    await expect.poll(() => c.screenText().join('\n'), { timeout: 10_000 }).toContain('seq-done')
  }, 90_000)
})

describe('window size', () => {
  it('never changes the size for a phone that only watches, at desktop size, or read-only, with or without a desktop', async () => {
    h.tmux.newSession('main')
    const reader = await addSignedInDevice(h.home, h.origin, { readOnly: true })
    const watcher = await term('/api/term/main/0?cols=44&rows=11')
    const desk = await term('/api/term/main/0?cols=40&rows=10&size=desktop')
    const readOnly = await term('/api/term/main/0?cols=30&rows=9&size=fit', { cookie: reader.cookie })
    const tryToResize = async () => {
      desk.type('echo typed-at-desktop-size\r')
      await expect.poll(() => h.tmux.capture('main:0'), { timeout: 10_000 }).toContain('typed-at-desktop-size')
      watcher.control({ type: 'resize', cols: 30, rows: 9 })
      readOnly.control({ type: 'resize', cols: 25, rows: 8 })
      readOnly.type('x')
      readOnly.control({ type: 'focus', pane: readOnly.panes[0]?.id ?? 0, zoom: false })
      await new Promise((r) => setTimeout(r, 300))
    }
    // Nothing else of tmux's state moves either: the current window, copy mode, options.
    h.tmux.run('set-option', '-g', 'mouse', 'on')
    h.tmux.run('new-window', '-d', '-t', 'main:')
    const state = () =>
      [
        h.tmux.run('display-message', '-p', '-t', 'main', '#{window_index} #{pane_in_mode}'),
        h.tmux.run('show-options', '-t', 'main'),
        h.tmux.run('show-options', '-w', '-t', 'main:0'),
        h.tmux.run('list-sessions', '-F', '#{session_name}'),
      ].join('|')
    const before = state()
    // A wheel turn, as a read-only phone's terminal would report it: in a direct attach it enters copy mode.
    readOnly.type('\x1b[<64;10;10M\x1b[<64;10;10M')
    await tryToResize()
    expect(windowSize('main:0')).toBe('120x30')
    expect(state()).toBe(before)
    desktop('main', 100, 30)
    await expect.poll(() => windowSize('main:0')).toBe('100x29')
    const withDesktop = state()
    readOnly.type('\x1b[<64;10;10M')
    await tryToResize()
    expect(windowSize('main:0')).toBe('100x29')
    expect(state()).toBe(withDesktop)
    expect(h.tmux.run('show-options', '-w', '-t', 'main:0').trim()).toBe('')
  })

  it('fits a typing phone (never below 20x8) and gives the desktop its size back when it leaves', async () => {
    h.tmux.newSession('main')
    desktop('main', 100, 30)
    await expect.poll(() => windowSize('main:0')).toBe('100x29')
    const c = await term('/api/term/main/0?cols=50&rows=20')
    c.type('echo fit\r')
    await expect.poll(() => windowSize('main:0')).toBe('50x20')
    await expect.poll(() => c.layout?.fitted).toBe(true)
    c.control({ type: 'resize', cols: 5, rows: 3 })
    await expect.poll(() => windowSize('main:0')).toBe('20x8')
    await c.close()
    await expect.poll(() => windowSize('main:0'), { timeout: 1_000 }).toBe('100x29')
    expect(h.tmux.run('show-options', '-w', '-t', 'main:0').trim()).toBe('')
  })

  it('gives the window its old size back with no desktop attached, and when hidden', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0?cols=60&rows=20')
    c.type('x')
    await expect.poll(() => windowSize('main:0')).toBe('60x20')
    c.control({ type: 'visibility', visible: false })
    await expect.poll(() => windowSize('main:0'), { timeout: 1_000 }).toBe('120x30')
    c.control({ type: 'visibility', visible: true })
    c.type('y')
    await expect.poll(() => windowSize('main:0')).toBe('60x20')
    await c.close()
    await expect.poll(() => windowSize('main:0'), { timeout: 1_000 }).toBe('120x30')
  })

  it('leaves a window whose size the user fixed alone', async () => {
    h.tmux.newSession('main')
    h.tmux.run('resize-window', '-t', 'main:0', '-x', '90', '-y', '25')
    const c = await term('/api/term/main/0?cols=50&rows=20')
    c.type('z')
    await new Promise((r) => setTimeout(r, 300))
    expect(windowSize('main:0')).toBe('90x25')
    expect(c.layout?.fitted).toBe(false)
  })
})

describe('bad input on the socket', () => {
  it('closes with 1009 on an oversized message and keeps serving', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0')
    c.type(Buffer.alloc(64 * 1024 + 1, 0x61))
    expect((await c.closed).code).toBe(1009)
    const next = await term('/api/term/main/0')
    next.type('echo still-$((1+1))\r')
    await expect.poll(() => next.text(), { timeout: 10_000 }).toContain('still-2')
  })

  it('answers malformed control frames with an error and stays open', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0')
    await expect.poll(() => c.panes.length).toBe(1)
    const bad = ['{', '"resize"', 'null', '{"type":"resize","cols":"x","rows":2}', '{"type":"ack","bytes":-1}', '{"type":"nuke"}',
      '{"type":"focus","pane":999999,"zoom":false}', '{"type":"focus","pane":1.5,"zoom":false}', '{"type":"paste","text":7}']
    for (const frame of bad) c.control(frame)
    await expect.poll(() => c.controls.filter((m) => m.code === 'BAD_CONTROL_MESSAGE').length).toBe(bad.length)
    c.type('echo alive-$((2+3))\r')
    await expect.poll(() => c.text(), { timeout: 10_000 }).toContain('alive-5')
  })

  it('refuses foreign origins and hosts, unknown targets and bad parameters before upgrading', async () => {
    h.tmux.newSession('main')
    const port = h.server.port
    const cookie = h.device.cookie
    const cases: [Promise<{ status: number; code: string }>, number, string][] = [
      [refusal(TermClient.open(port, '/api/term/main/0', { origin: 'http://evil.example', cookie })), 403, 'ORIGIN_MISMATCH'],
      [refusal(TermClient.open(port, '/api/term/main/0', { origin: null, cookie })), 403, 'ORIGIN_MISMATCH'],
      [refusal(TermClient.open(port, '/api/term/main/0', { origin: 'null', cookie })), 403, 'ORIGIN_MISMATCH'],
      [refusal(TermClient.open(port, '/api/term/main/0', { origin: `http://localhost:${port}.evil.example`, cookie })), 403, 'ORIGIN_MISMATCH'],
      [refusal(TermClient.open(port, '/api/term/main/0', { host: `evil.example:${port}`, cookie })), 421, 'HOST_NOT_ALLOWED'],
      [refusal(TermClient.open(port, '/api/term/mai/0', { cookie })), 404, 'SESSION_NOT_FOUND'],
      [refusal(TermClient.open(port, '/api/term/main/7', { cookie })), 404, 'WINDOW_NOT_FOUND'],
      [refusal(TermClient.open(port, '/api/term/main/x', { cookie })), 400, 'BAD_REQUEST'],
      [refusal(TermClient.open(port, '/api/term/%E0%A4%A/0', { cookie })), 400, 'BAD_REQUEST'],
      [refusal(TermClient.open(port, '/api/term/main/0?cols=abc', { cookie })), 400, 'BAD_REQUEST'],
      [refusal(TermClient.open(port, '/api/term/main/0?history=50001', { cookie })), 400, 'BAD_REQUEST'],
      [refusal(TermClient.open(port, '/api/term/main/0?size=huge', { cookie })), 400, 'BAD_REQUEST'],
      [refusal(TermClient.open(port, '/api/other', { cookie })), 404, 'NOT_FOUND'],
    ]
    for (const [attempt, status, code] of cases) expect(await attempt).toEqual({ status, code })
    expect(sessionNames()).toEqual(['main'])
  })
})

describe('lifetimes', () => {
  it('drops a client that stops answering pings, and its control client with it', async () => {
    await h.stop()
    h = await startHarness({ heartbeatMs: 200 })
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0')
    await expect.poll(() => c.panes.length).toBe(1)
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    await new Promise((r) => setTimeout(r, 1_000))
    socket.resume()
    expect((await c.closed).code).toBe(1006)
  })
})
