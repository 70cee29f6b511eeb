import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runCrashRounds } from '../bench/crash.js'
import { startServer } from '../server/index.js'
import { addSignedInDevice } from './support/device.js'
import { TermClient } from './support/term.js'
import { PrivateTmux, tempHome } from './support/tmux.js'

const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))

let t: PrivateTmux
let home: string
let removeHome: () => void
let child: ChildProcess | undefined
beforeEach(() => {
  t = new PrivateTmux()
  ;({ home, remove: removeHome } = tempHome())
})
afterEach(() => {
  child?.kill('SIGKILL')
  t.kill()
  removeHome()
})

/** `handoff serve --local` in a process of its own, as a user runs it; resolves with its port once it listens. */
async function serveInProcess(): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, HANDOFF_HOME: home }
  delete env.TMUX
  child = spawn(process.execPath, [BIN, 'serve', '--local', '--port', '0', '--tmux-socket', t.socket], { env, stdio: 'ignore' })
  let port = 0
  await expect
    .poll(() => {
      try {
        port = (JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')) as { port: number }).port
      } catch {
        return false
      }
      return port > 0
    }, { timeout: 20_000 })
    .toBe(true)
  return port
}

const clients = () => t.run('list-clients', '-F', '#{client_pid}').trim()
const windowState = () => t.run('display-message', '-p', '-t', 'main:0', '#{window_width}x#{window_height} [#{@handoff-size}]').trim()

describe('a Handoff server killed with SIGKILL', () => {
  it('leaves no client or session in tmux, and the next start gives back a window it held at a phone\'s size', async () => {
    t.newSession('main')
    const port = await serveInProcess()
    const origin = `http://localhost:${port}`
    const device = await addSignedInDevice(home, origin)
    const phone = await TermClient.open(port, '/api/term/main/0?cols=50&rows=20', { cookie: device.cookie })
    phone.type('x')
    await expect.poll(windowState, { timeout: 10_000 }).toMatch(/^50x20 \[\d+ 120 30 -\]$/)
    expect(clients()).not.toBe('')

    child?.kill('SIGKILL')
    // Its control clients read from the dead server's pipes: they end with it.
    await expect.poll(clients, { timeout: 10_000 }).toBe('')
    expect(t.run('list-sessions', '-F', '#{session_name}').trim()).toBe('main')
    // What it cannot undo itself: the window it held at the phone's size, marked so.
    expect(windowState()).toMatch(/^50x20 \[/)

    const next = await startServer({ port: 0, tmuxSocket: t.socket, home, log: () => {} })
    try {
      expect(windowState()).toBe('120x30 []')
      expect(t.run('show-options', '-w', '-t', 'main:0').trim()).toBe('')
      // Starting up attached nothing to the user's tmux.
      expect(clients()).toBe('')
    } finally {
      await next.close()
    }
  })
})

describe('state files under SIGKILL at random moments', () => {
  it('are whole after every kill (the old or the new content, whole log lines, ids in order), and the server starts', async () => {
    // The short version of `node dist/bench/crash.js --rounds 200` (docs/security.md).
    const report = await runCrashRounds(15)
    expect(report.problems).toEqual([])
    expect(report.serverStartFailures).toBe(0)
    expect(report.killsAfterStart).toBe(15)
    expect(report.events).toBeGreaterThan(0)
  }, 60_000)
})
