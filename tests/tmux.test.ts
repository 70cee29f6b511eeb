import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HandoffError } from '../server/errors.js'
import { Tmux } from '../server/tmux/index.js'
import { PrivateTmux } from './support/tmux.js'

let t: PrivateTmux
let tmux: Tmux
beforeEach(() => {
  t = new PrivateTmux()
  tmux = new Tmux(t.socket)
})
afterEach(() => t.kill())

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p
    return 'resolved'
  } catch (err) {
    return err instanceof HandoffError ? err.code : String(err)
  }
}

describe('names and targets', () => {
  it('lists awkward names exactly and resolves each by exact name only', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'handoff-fmt-')), 'ran')
    t.newSession('main')
    t.newSession('main2')
    t.newSession('with space')
    t.newSession('x=y')
    t.newSession('-t')
    t.newSession(`quo"te's`)
    t.newSession('ünïcødé ✳')
    // `##` makes tmux store a literal `#`, so the name is `x#(touch …)`; listing it must not run it.
    t.newSession(`x##(touch ${marker})`)
    const names = (await tmux.listSessions()).map((s) => s.name)
    expect(names).toEqual(
      expect.arrayContaining(['main', 'main2', 'with space', 'x=y', '-t', `quo"te's`, 'ünïcødé ✳', `x#(touch ${marker})`]),
    )
    expect(names).toHaveLength(8)

    const main = await tmux.findSession('main')
    const main2 = await tmux.findSession('main2')
    expect(main.id).not.toBe(main2.id)
    expect(main.id).toMatch(/^\$\d+$/)
    for (const near of ['=main', 'mai', 'ma*', 'main ', '$0', '@0', '%0', '=pts/0']) {
      expect(await codeOf(tmux.findSession(near))).toBe('SESSION_NOT_FOUND')
    }
    const hashy = await tmux.findWindow(`x#(touch ${marker})`, 0)
    await tmux.capturePane(hashy.window, 10)
    expect((await tmux.findWindow('-t', 0)).session.name).toBe('-t')
    expect(existsSync(marker)).toBe(false)
  })

  it('turns ":" and "." into "_" as tmux does, and finds the stored name', async () => {
    t.newSession('a:b.c')
    expect((await tmux.listSessions()).map((s) => s.name)).toEqual(['a_b_c'])
    expect(await codeOf(tmux.findSession('a:b.c'))).toBe('SESSION_NOT_FOUND')
  })

  it('refuses names it would create unless they are plain', async () => {
    for (const bad of ['', 'a b', 'x#(id)', 'a:b', '-', 'ü', 'a'.repeat(65), '#{session_name}']) {
      expect(await codeOf(tmux.createSession(bad))).toBe(bad === '-' ? 'resolved' : 'BAD_NAME')
    }
  })
})

describe('sessions and windows', () => {
  it('lists windows with title glyphs stripped, command and path', async () => {
    t.newSession('work', '-c', '/tmp')
    t.run('select-pane', '-t', 'work:0', '-T', '✳ Claude Code')
    t.run('new-window', '-d', '-t', 'work:', '-n', 'logs', '-c', '/')
    const session = await tmux.findSession('work')
    const windows = await tmux.listWindows(session)
    expect(windows.map((w) => [w.index, w.name, w.active])).toEqual([
      [0, expect.any(String), true],
      [1, 'logs', false],
    ])
    expect(windows[0]?.title).toBe('Claude Code')
    expect(windows[0]?.path).toBe('/tmp')
    expect(windows[1]?.path).toBe('/')
    expect(windows[0]?.command).toMatch(/sh/)
    expect(session.windows).toBe(2)
    expect(session.activity).toBeGreaterThan(1_700_000_000)
  })

  it('counts typing in any window as the session\'s activity, as the list and the live list show it', async () => {
    t.newSession('busy')
    t.run('new-window', '-d', '-t', 'busy:')
    const created = (await tmux.findSession('busy')).activity
    // tmux keeps activity in whole seconds: type once the clock has moved on.
    await expect.poll(() => Math.floor(Date.now() / 1000), { timeout: 3_000, interval: 50 }).toBeGreaterThan(created)
    t.run('send-keys', '-t', 'busy:1', 'echo typed', 'Enter')
    await expect.poll(async () => (await tmux.findSession('busy')).activity, { timeout: 5_000, interval: 100 }).toBeGreaterThan(created)
    const live = (await tmux.listAll()).find((entry) => entry.session.name === 'busy')
    expect(live?.session.activity).toBe((await tmux.findSession('busy')).activity)
    expect(live?.session.activity).toBe(Math.max(...(live?.windows.map((w) => w.activity) ?? [])))
  })

  it('creates and kills exactly what was asked', async () => {
    const created = await tmux.createSession('work-api')
    expect(created.name).toBe('work-api')
    expect(await codeOf(tmux.createSession('work-api'))).toBe('SESSION_EXISTS')
    t.newSession('work-api2')
    const window = await tmux.createWindow(created, 'build')
    expect(window).toMatchObject({ index: 1, name: 'build', active: false })
    expect(await codeOf(tmux.createWindow(created, 'bad name'))).toBe('BAD_NAME')
    await tmux.killWindow(window)
    expect((await tmux.listWindows(created)).map((w) => w.index)).toEqual([0])
    await tmux.killSession(created)
    expect((await tmux.listSessions()).map((s) => s.name)).toEqual(['work-api2'])
    expect(await codeOf(tmux.findWindow('work-api2', 5))).toBe('WINDOW_NOT_FOUND')
  })

  it('captures history with colours', async () => {
    t.newSession('cap')
    t.run('send-keys', '-t', 'cap:0', "printf '\\033[31mred-line\\033[0m\\n'", 'Enter')
    const { window } = await tmux.findWindow('cap', 0)
    await expect.poll(() => tmux.capturePane(window, 100), { timeout: 10_000 }).toContain('\x1b[31mred-line')
  })
})

describe('failures', () => {
  it('treats no running server as an empty list', async () => {
    expect(await tmux.listSessions()).toEqual([])
    expect(await codeOf(tmux.findSession('main'))).toBe('SESSION_NOT_FOUND')
  })

  it('times out on a hung tmux server instead of hanging', async () => {
    t.newSession('main')
    const pid = Number(t.run('display-message', '-p', '#{pid}').trim())
    process.kill(pid, 'SIGSTOP')
    try {
      const slow = new Tmux(t.socket, { timeoutMs: 300 })
      expect(await codeOf(slow.listSessions())).toBe('TMUX_TIMEOUT')
    } finally {
      process.kill(pid, 'SIGCONT')
    }
  })

  it('says tmux is not installed when it is not on PATH', async () => {
    const path = process.env.PATH
    process.env.PATH = '/nonexistent'
    try {
      const err = await tmux.listSessions().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(HandoffError)
      expect((err as HandoffError).code).toBe('TMUX_NOT_INSTALLED')
      expect((err as HandoffError).message).toMatch(/apt-get install tmux/)
    } finally {
      process.env.PATH = path
    }
  })

  it('bounds the output it reads', async () => {
    t.newSession('big')
    const small = new Tmux(t.socket, { maxOutputBytes: 10 })
    expect(await codeOf(small.listSessions())).toBe('TMUX_OUTPUT_TOO_LARGE')
  })

  it('names a tmux binary that differs from the running server, and how to fix it', async () => {
    t.newSession('v')
    // A stand-in `tmux` first on PATH: it reports another version for -V and passes all else to the real one.
    const bin = mkdtempSync(join(tmpdir(), 'handoff-fake-tmux-'))
    const real = execFileSync('sh', ['-c', 'command -v tmux'], { encoding: 'utf8' }).trim()
    writeFileSync(join(bin, 'tmux'), `#!/bin/sh\ncase " $* " in *" -V "*) echo "tmux 9.9z"; exit 0;; esac\nexec ${real} "$@"\n`)
    chmodSync(join(bin, 'tmux'), 0o755)
    const path = process.env.PATH
    process.env.PATH = `${bin}:${path ?? ''}`
    try {
      const err = await tmux.checkVersions().catch((e: unknown) => e)
      expect((err as HandoffError).code).toBe('TMUX_VERSION_MISMATCH')
      expect((err as HandoffError).message).toMatch(/9\.9z/)
      expect((err as HandoffError).message).toMatch(/kill-server/)
    } finally {
      process.env.PATH = path
    }
  })

  it('turns tmux\'s protocol mismatch into TMUX_VERSION_MISMATCH', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'handoff-fake-tmux-'))
    writeFileSync(join(bin, 'tmux'), '#!/bin/sh\necho "protocol version mismatch (client 8, server 7)" >&2\nexit 1\n')
    chmodSync(join(bin, 'tmux'), 0o755)
    const path = process.env.PATH
    process.env.PATH = `${bin}:${path ?? ''}`
    try {
      expect(await codeOf(tmux.listSessions())).toBe('TMUX_VERSION_MISMATCH')
    } finally {
      process.env.PATH = path
    }
  })

  it('reports matching binary and server versions', async () => {
    t.newSession('v')
    const v = await tmux.checkVersions()
    expect(v.server).toBe(v.binary)
    expect(v.binary).toMatch(/^\d+\.\d+/)
  })
})
