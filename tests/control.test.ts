import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HandoffError } from '../server/errors.js'
import { Tmux, TmuxControl, tmuxSpawns } from '../server/tmux/index.js'
import { PrivateTmux } from './support/tmux.js'

let t: PrivateTmux
let control: TmuxControl
let tmux: Tmux
beforeEach(() => {
  t = new PrivateTmux()
  control = new TmuxControl(t.socket, { client: { commandTimeoutMs: 1_000 } })
  tmux = new Tmux(control)
})
afterEach(() => {
  control.close()
  t.kill()
})

const clients = () => t.run('list-clients', '-F', '#{client_pid} #{client_control_mode}').trim()

describe('the control connection', () => {
  it('gives tmux every argument exactly as written', async () => {
    t.newSession('main')
    const awkward = ['plain', `it's "quoted"`, 'semi;colon', '$HOME ~ {brace}', 'line\nbreak\ttab', 'é ✳ 漢字', '#{session_name} #(echo no)', '\\back\\slash', '%if 1']
    for (const value of awkward) {
      await tmux.exec(['set-option', '-t', 'main', '@probe', value])
      expect(t.run('show-options', '-v', '-t', 'main', '@probe')).toBe(`${value}\n`)
    }
  })

  it('runs commands without starting a process each, and answers failures with tmux\'s message', async () => {
    t.newSession('main')
    await tmux.listSessions()
    const before = tmuxSpawns()
    for (let i = 0; i < 20; i++) await tmux.listSessions()
    await tmux.createWindow(await tmux.findSession('main'), 'extra')
    expect(tmuxSpawns()).toBe(before)
    const err = await tmux.exec(['kill-window', '-t', '@999']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HandoffError)
    expect((err as HandoffError).code).toBe('TMUX_FAILED')
    expect((err as HandoffError).message).toMatch(/can't find window/)
    // A failed command leaves the connection usable.
    expect((await tmux.listSessions()).map((s) => s.name)).toEqual(['main'])
  })

  it('streams a watched session\'s pane output as exact bytes', async () => {
    t.newSession('main', 'stty raw -echo; exec cat')
    const session = await tmux.findSession('main')
    const pane = Number(t.run('display-message', '-p', '-t', 'main', '#{pane_id}').trim().slice(1))
    const chunks: Buffer[] = []
    const lease = await control.watch(session.id, { output: (p, data) => p === pane && chunks.push(data), notification: () => {}, lost: () => {} })
    const sent = Buffer.from('a\\b\x1b[1mé\r\n', 'utf8')
    await lease.client.command(['send-keys', '-H', '-t', `%${pane}`, ...[...sent].map((b) => b.toString(16))])
    await expect.poll(() => Buffer.concat(chunks).toString('hex')).toBe(sent.toString('hex'))
    lease.release()
  })

  it('moves its spare control client to the next session watched, starting no process', async () => {
    t.newSession('one')
    t.newSession('two')
    const [one, two] = await tmux.listSessions()
    const quiet = { output: () => {}, notification: () => {}, lost: () => {} }
    const first = await control.watch(one!.id, quiet)
    first.release()
    const spawned = tmuxSpawns()
    const second = await control.watch(two!.id, quiet)
    expect(tmuxSpawns()).toBe(spawned)
    expect(second.client).toBe(first.client)
    expect(t.run('list-clients', '-F', '#{session_name}').trim()).toBe('two')
    second.release()
  })

  it('tells of changes as tmux makes them, with no polling', async () => {
    t.newSession('main')
    let changes = 0
    control.onChange(() => changes++)
    const release = control.hold()
    await expect.poll(() => clients()).toMatch(/ 1$/)
    const spawned = tmuxSpawns()
    t.run('new-window', '-d', '-t', 'main')
    await expect.poll(() => changes).toBeGreaterThan(0)
    const seen = changes
    t.run('rename-session', '-t', 'main', 'renamed')
    await expect.poll(() => changes).toBeGreaterThan(seen)
    expect(tmuxSpawns()).toBe(spawned)
    release()
  })

  it('leaves no client behind when closed, and none while nothing needs one', async () => {
    t.newSession('main')
    await tmux.listSessions()
    expect(clients()).toMatch(/ 1$/)
    control.close()
    await expect.poll(() => clients()).toBe('')
  })

  it('says TMUX_TIMEOUT when tmux hangs, and recovers once it answers again', async () => {
    t.newSession('main')
    await tmux.listSessions()
    const pid = Number(t.run('display-message', '-p', '#{pid}').trim())
    process.kill(pid, 'SIGSTOP')
    try {
      const err = await tmux.listSessions().catch((e: unknown) => e)
      expect((err as HandoffError).code).toBe('TMUX_TIMEOUT')
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    expect((await tmux.listSessions()).map((s) => s.name)).toEqual(['main'])
  })

  it('answers as with no server once tmux exits, and comes back with the next server', async () => {
    t.newSession('main')
    const release = control.hold()
    await expect.poll(() => control.clientCount).toBe(1)
    t.kill()
    await expect.poll(() => control.clientCount).toBe(0)
    expect(await tmux.listSessions()).toEqual([])
    t.newSession('again')
    // Held (a live list is open): the connection comes back by itself, when the socket reappears.
    await expect.poll(() => control.clientCount, { timeout: 10_000 }).toBe(1)
    expect((await tmux.listSessions()).map((s) => s.name)).toEqual(['again'])
    release()
  })
})

describe('arguments through the control connection (property)', () => {
  it('reach tmux exactly, whatever they hold', async () => {
    const fc = (await import('fast-check')).default
    const { hostileString } = await import('./support/arbitraries.js')
    t.newSession('main')
    // tmux keeps option values as C strings and text as UTF-8: no NUL, no lone surrogate.
    const value = hostileString(60).map((s) => s.replace(/\x00/g, ''))
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        await tmux.exec(['set-option', '-t', 'main', '@probe', v])
        expect(t.run('show-options', '-v', '-t', 'main', '@probe')).toBe(`${v}\n`)
      }),
      { numRuns: 40 },
    )
  })
})
