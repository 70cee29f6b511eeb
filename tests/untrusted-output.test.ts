import { execFile, spawn } from 'node:child_process'
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startHarness, request, type Harness } from './support/server.js'

// Text from outside (a request's path, a folder's name, an event) printed by
// the CLI or the server's log: never raw on the owner's terminal.

const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))
/** A clipboard write (OSC 52), a screen clear, a title change, a C1 CSI and a right-to-left override. */
const HOSTILE = '\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b]0;pwned\x07\u009b31m\u202eevil'
/** Anything that would act on a terminal: ESC, BEL, C1 controls, bidirectional overrides. */
const RAW = /[\x07\x1b\u0080-\u009f\u202a-\u202e\u2066-\u2069]/

let h: Harness
beforeEach(async () => {
  h = await startHarness()
})
afterEach(async () => {
  await h.stop()
})

function handoff(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HANDOFF_HOME: h.home, HANDOFF_PORT: '1' }
  delete env.TMUX
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
    })
  })
}

describe('the CLI', () => {
  it('shows a hostile request path in handoff logs escaped and flagged, and exactly with --json', async () => {
    // Unauthenticated and refused, but its target is recorded as asked for.
    const r = await request(h.server.port, `/api/sessions/${encodeURIComponent(HOSTILE)}/windows`)
    expect(r.status).toBe(401)
    const human = await handoff(['logs'])
    expect(human.code).toBe(0)
    expect(human.stdout).not.toMatch(RAW)
    expect(human.stdout).toContain('\\e]52;c;ZWNobyBwd25lZA==\\x07\\e[2J')
    expect(human.stdout).toContain('\\u202eevil')
    expect(human.stdout).toContain('[had control characters]')
    const json = await handoff(['logs', '--json'])
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { target: string | null; controls?: true })
    expect(entries.find((e) => e.target === HOSTILE)?.controls).toBe(true)
  })

  it('shows a hostile folder and window name in the session list escaped', async () => {
    const dir = join(h.home, `x${HOSTILE.replace(/\//g, '')}`)
    mkdirSync(dir)
    h.tmux.newSession('main', '-c', dir)
    h.tmux.run('rename-window', '-t', 'main:0', `w\u202eevil`)
    await expect.poll(() => h.tmux.run('display-message', '-p', '-t', 'main:0', '#{pane_current_path}')).toContain('ZWNob')
    const out = await handoff(['--tmux-socket', h.tmux.socket])
    expect(out.stdout).toContain('main')
    expect(out.stdout).not.toMatch(RAW)
    expect(out.stdout).toContain('\\e]52;c;')
    const json = await handoff(['--json', '--tmux-socket', h.tmux.socket])
    expect(json.stdout).toContain('\\u001b]52;c;')
  })
})

describe('the server log', () => {
  it('escapes what it quotes from a bad event line', async () => {
    await h.stop()
    h = await startHarness()
    const env: NodeJS.ProcessEnv = { ...process.env, HANDOFF_HOME: h.home }
    delete env.TMUX
    await h.server.close()
    const child = spawn(process.execPath, [BIN, 'serve', '--local', '--port', '0', '--tmux-socket', h.tmux.socket], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    try {
      await expect.poll(() => {
        try {
          return (JSON.parse(readFileSync(join(h.home, 'server.json'), 'utf8')) as { pid: number }).pid === child.pid
        } catch {
          return false
        }
      }, { timeout: 20_000 }).toBe(true)
      appendFileSync(join(h.home, 'events.jsonl'), `${JSON.stringify({ id: 1, ts: new Date().toISOString(), type: HOSTILE, message: 'x' })}\n`)
      await expect.poll(() => stderr, { timeout: 10_000 }).toContain('skipped')
      expect(stderr).not.toMatch(RAW)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
  })
})
