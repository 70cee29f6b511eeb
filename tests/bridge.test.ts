import * as pty from 'node-pty'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startServer } from '../server/index.js'
import { startHarness, type Harness } from './support/server.js'
import { TermClient } from './support/term.js'
import { PrivateTmux, tempHome } from './support/tmux.js'

let h: Harness
const open: TermClient[] = []
const desktops: pty.IPty[] = []
beforeEach(async () => {
  h = await startHarness({ watchIntervalMs: 100 })
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
function desktop(session: string): pty.IPty {
  const env = { ...process.env, TERM: 'xterm-256color' } as Record<string, string>
  delete env.TMUX
  const d = pty.spawn('tmux', ['-L', h.tmux.socket, 'attach', '-t', session], { cols: 100, rows: 30, env })
  desktops.push(d)
  return d
}

/** All sessions tmux has, Handoff's hidden viewers included. */
const rawSessions = () => h.tmux.run('list-sessions', '-F', '#{session_name}').trim().split('\n').filter(Boolean)
const refusal = (p: Promise<unknown>) => p.then(() => ({ status: 0, code: '' }), (e: { status?: number; body?: string }) => ({
  status: e.status ?? -1,
  code: (JSON.parse(e.body ?? '{}') as { error?: { code?: string } }).error?.code ?? '',
}))

describe('terminal stream', () => {
  it('types into the pane and reads the output back', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0?cols=100&rows=30')
    c.type('echo hi-$((40+2))\r')
    await expect.poll(() => c.text(), { timeout: 10_000 }).toContain('hi-42')
    expect(h.tmux.capture('main:0')).toContain('hi-42')
  })

  it('never moves the desktop while the browser opens and switches windows', async () => {
    h.tmux.newSession('main')
    h.tmux.run('new-window', '-d', '-t', 'main:')
    h.tmux.run('new-window', '-d', '-t', 'main:')
    desktop('main')
    const desktopWindow = () => h.tmux.run('list-clients', '-t', 'main', '-F', '#{window_index}').trim()
    await expect.poll(desktopWindow, { timeout: 10_000 }).toBe('0')

    const w1 = await term('/api/term/main/1')
    w1.type('echo on-one\r')
    await expect.poll(() => h.tmux.capture('main:1'), { timeout: 10_000 }).toContain('on-one')
    await w1.close()
    const w2 = await term('/api/term/main/2')
    w2.type('echo on-two\r')
    await expect.poll(() => h.tmux.capture('main:2'), { timeout: 10_000 }).toContain('on-two')

    expect(desktopWindow()).toBe('0')
    expect(h.tmux.run('display-message', '-p', '-t', 'main', '#{window_index}').trim()).toBe('0')
    // Handoff's own viewer session never shows in its lists.
    expect(rawSessions().some((n) => n.startsWith('_handoff-view-'))).toBe(true)
    const listed = await fetch(`${h.origin}/api/sessions`, { headers: { cookie: h.device.cookie } }).then((r) => r.json() as Promise<{ name: string }[]>)
    expect(listed.map((s) => s.name)).toEqual(['main'])
  })

  it('resizes the tmux client, clamped to sane bounds', async () => {
    h.tmux.newSession('main')
    await term('/api/term/main/0?cols=90&rows=25')
    const clientSize = () => h.tmux.run('list-clients', '-F', '#{client_width}x#{client_height}').trim()
    await expect.poll(clientSize, { timeout: 10_000 }).toBe('90x25')
    open[0]?.control({ type: 'resize', cols: 10_000, rows: 10_000 })
    await expect.poll(clientSize, { timeout: 10_000 }).toBe('500x200')
    open[0]?.control({ type: 'resize', cols: 1, rows: 1 })
    await expect.poll(clientSize, { timeout: 10_000 }).toBe('2x2')
  })

  it('watches at the desktop\'s size when asked, never resizing the window', async () => {
    h.tmux.newSession('main')
    await term('/api/term/main/0?cols=60&rows=15&size=desktop')
    const flags = () => h.tmux.run('list-clients', '-F', '#{client_flags}').trim()
    await expect.poll(flags, { timeout: 10_000 }).toContain('ignore-size')
    expect(h.tmux.run('display-message', '-p', '-t', 'main:0', '#{window_width}x#{window_height}').trim()).toBe('120x30')
    expect(await refusal(TermClient.open(h.server.port, '/api/term/main/0?size=huge', { cookie: h.device.cookie }))).toEqual({ status: 400, code: 'BAD_REQUEST' })
  })

  it('detaching leaves the session alive and removes the viewer', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0')
    await expect.poll(() => rawSessions().length).toBe(2)
    await c.close()
    await expect.poll(rawSessions, { timeout: 10_000 }).toEqual(['main'])
  })

  it('closes with the reason when the window or the session is killed', async () => {
    h.tmux.newSession('main')
    h.tmux.run('new-window', '-d', '-t', 'main:')
    const onWindow = await term('/api/term/main/1')
    h.tmux.run('kill-window', '-t', 'main:1')
    expect(await onWindow.closed).toEqual({ code: 4404, reason: 'WINDOW_CLOSED' })
    expect(onWindow.controls.at(-1)).toMatchObject({ type: 'exit', code: 'WINDOW_CLOSED' })

    const onSession = await term('/api/term/main/0')
    h.tmux.run('kill-session', '-t', 'main')
    expect(await onSession.closed).toEqual({ code: 4404, reason: 'SESSION_CLOSED' })
    // The viewer held the windows; they must go with it.
    await expect.poll(() => { try { return rawSessions() } catch { return [] } }, { timeout: 10_000 }).toEqual([])
  })

  it('keeps what it holds for a client that never reads bounded', async () => {
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0', { ack: false })
    await expect.poll(() => c.received, { timeout: 10_000 }).toBeGreaterThan(0)
    // A client that neither acknowledges nor reads its socket, under endless output.
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    // seq is fast, so tmux has far more than the limit to send within moments, even on a loaded machine.
    h.tmux.run('send-keys', '-t', 'main:0', 'seq 1 1000000000', 'Enter')
    await expect.poll(() => h.tmux.capture('main:0'), { timeout: 30_000 }).toMatch(/^\d{6}$/m)
    socket.resume()
    // All the server held arrives now: the unacknowledged limit plus at most one read.
    const limit = 1024 * 1024 + 64 * 1024
    await expect.poll(() => c.received, { timeout: 30_000 }).toBeGreaterThan(1024 * 1024)
    await new Promise((r) => setTimeout(r, 300))
    const held = c.received
    expect(held).toBeLessThanOrEqual(limit)
    c.ack(held)
    await expect.poll(() => c.received, { timeout: 10_000 }).toBeGreaterThan(held)
    h.tmux.run('send-keys', '-t', 'main:0', 'C-c', '')
  }, 60_000)
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
    for (const bad of ['{', '"resize"', 'null', '{"type":"resize","cols":"x","rows":2}', '{"type":"ack","bytes":-1}', '{"type":"nuke"}']) {
      c.control(bad)
    }
    await expect.poll(() => c.controls.filter((m) => m.code === 'BAD_CONTROL_MESSAGE').length).toBe(6)
    c.type('echo alive-$((2+3))\r')
    await expect.poll(() => c.text(), { timeout: 10_000 }).toContain('alive-5')
  })

  it('refuses foreign origins and hosts, unknown targets and bad sizes before upgrading', async () => {
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
      [refusal(TermClient.open(port, '/api/other', { cookie })), 404, 'NOT_FOUND'],
    ]
    for (const [attempt, status, code] of cases) expect(await attempt).toEqual({ status, code })
    expect(rawSessions()).toEqual(['main'])
  })
})

describe('lifetimes', () => {
  it('drops a client that stops answering pings', async () => {
    await h.stop()
    h = await startHarness({ heartbeatMs: 200, watchIntervalMs: 100 })
    h.tmux.newSession('main')
    const c = await term('/api/term/main/0')
    ;(c.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    await expect.poll(rawSessions, { timeout: 10_000 }).toEqual(['main'])
  })

  it('removes viewer sessions left by a server that died', async () => {
    const t = new PrivateTmux()
    const { home, remove } = tempHome()
    try {
      t.newSession('main')
      t.run('new-session', '-d', '-t', 'main', '-s', '_handoff-view-dead', ';', 'set-option', '-t', '_handoff-view-dead', '@handoff_viewer', '999999999')
      expect(t.run('list-sessions', '-F', '#{session_name}')).toContain('_handoff-view-dead')
      const server = await startServer({ port: 0, tmuxSocket: t.socket, home, log: () => {} })
      await server.close()
      expect(t.run('list-sessions', '-F', '#{session_name}').trim()).toBe('main')
    } finally {
      t.kill()
      remove()
    }
  })
})
