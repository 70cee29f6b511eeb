import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PrivateTmux, tempHome } from './support/tmux.js'

// The built CLI, run as a user runs it (tests run after "npm run build").
const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

interface Ctx {
  tmux: PrivateTmux
  home: string
  removeHome: () => void
  /** A port nothing listens on, so "not running" does not depend on what else runs on 7438. */
  idlePort: number
  children: Set<ChildProcess>
}

let ctx: Ctx

/** A port that was free a moment ago: bind port 0, note it, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** The environment of every run: a fresh HANDOFF_HOME and a private tmux server, never the user's. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HANDOFF_HOME: ctx.home,
    HANDOFF_TMUX_SOCKET: ctx.tmux.socket,
    HANDOFF_PORT: String(ctx.idlePort),
    ...extra,
  }
  delete env.TMUX
  delete env.TMUX_PANE
  return env
}

/** Runs `handoff ...args` to completion with an argument array (no shell). */
function handoff(args: string[], extraEnv: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cliEnv(extraEnv), timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

interface Serving {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `handoff serve ...args` in the background; afterEach kills it if the test did not. */
function serve(args: string[]): Serving {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  ctx.children.add(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')))
  child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      ctx.children.delete(child)
      resolve({ code, signal })
    }),
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

interface ServerRecord {
  pid: number
  port: number
  url: string
  listening: string[]
}

const recordPath = () => join(ctx.home, 'server.json')

/** Waits until the server has recorded itself in HANDOFF_HOME/server.json, and returns the record. */
async function waitForRecord(s: Serving): Promise<ServerRecord> {
  await expect
    .poll(() => existsSync(recordPath()) || s.child.exitCode !== null, { timeout: 15_000, interval: 50 })
    .toBe(true)
  if (!existsSync(recordPath())) throw new Error(`serve exited ${s.child.exitCode}: ${s.stderr()}`)
  return JSON.parse(readFileSync(recordPath(), 'utf8')) as ServerRecord
}

/** A user-facing failure: some message, no stack trace. */
function expectCleanError(r: Result): void {
  expect(r.stderr.trim()).not.toBe('')
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(r.stderr).not.toMatch(/unexpected error/)
}

beforeEach(async () => {
  const { home, remove } = tempHome()
  ctx = { tmux: new PrivateTmux(), home, removeHome: remove, idlePort: await freePort(), children: new Set() }
})

afterEach(async () => {
  for (const child of ctx.children) {
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }
  ctx.tmux.kill()
  ctx.removeHome()
})

describe('handoff (listing)', () => {
  beforeEach(() => {
    ctx.tmux.newSession('alpha')
    ctx.tmux.run('rename-window', '-t', 'alpha', 'editor')
    ctx.tmux.run('new-window', '-d', '-t', 'alpha', '-n', 'logs')
    ctx.tmux.newSession('beta')
    ctx.tmux.run('rename-window', '-t', 'beta', 'shell')
  })

  it('lists each session with its windows, and how to start the server', async () => {
    const r = await handoff([])
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    const alpha = lines.findIndex((l) => l.startsWith('alpha'))
    expect(alpha).toBeGreaterThanOrEqual(0)
    expect(lines[alpha]).toContain('2 windows')
    // Windows are indented under their session.
    expect(lines[alpha + 1]).toMatch(/^\s+\*?0: editor/)
    expect(lines[alpha + 2]).toMatch(/^\s+1: logs/)
    expect(r.stdout).toMatch(/^beta/m)
    expect(r.stdout).toMatch(/^\s+\*?0: shell/m)
    expect(r.stdout).toContain('handoff serve')
    expect(r.stdout).toContain(`http://localhost:${ctx.idlePort}`)
  })

  it('--json prints url, serverRunning and sessions[].windowList[]', async () => {
    const r = await handoff(['--json'])
    expect(r.code).toBe(0)
    const data = JSON.parse(r.stdout) as {
      url: string
      serverRunning: boolean
      sessions: { name: string; windows: number; attached: number; activity: number; windowList: { index: number; name: string; active: boolean }[] }[]
    }
    expect(data.url).toBe(`http://localhost:${ctx.idlePort}`)
    expect(data.serverRunning).toBe(false)
    expect(data.sessions.map((s) => s.name)).toEqual(['alpha', 'beta'])
    const alpha = data.sessions[0]!
    expect(alpha.windows).toBe(2)
    expect(alpha.attached).toBe(0)
    expect(typeof alpha.activity).toBe('number')
    expect(alpha.windowList.map((w) => [w.index, w.name])).toEqual([
      [0, 'editor'],
      [1, 'logs'],
    ])
    expect(alpha.windowList.filter((w) => w.active)).toHaveLength(1)
    expect(data.sessions[1]!.windowList.map((w) => w.name)).toEqual(['shell'])
  })
})

describe('handoff with nothing running', () => {
  it('says there are no sessions when no tmux server runs, and exits 0', async () => {
    const r = await handoff([])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('No tmux sessions')
    const json = await handoff(['--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ serverRunning: false, sessions: [] })
  })
})

describe('version and help', () => {
  it('prints the version, as text and as JSON', async () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string }
    const text = await handoff(['version'])
    expect(text.code).toBe(0)
    expect(text.stdout).toBe(`handoff ${pkg.version}\n`)
    const json = await handoff(['version', '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({ version: pkg.version })
    const flag = await handoff(['--version'])
    expect(flag.code).toBe(0)
    expect(flag.stdout.trim()).toBe(pkg.version)
  })

  it('--help and "help" exit 0 and list the commands', async () => {
    for (const args of [['--help'], ['help'], ['serve', '--help'], ['help', 'status']]) {
      const r = await handoff(args)
      expect(r.code, args.join(' ')).toBe(0)
      expect(r.stdout, args.join(' ')).toMatch(/^Usage: handoff/)
    }
    const top = await handoff(['--help'])
    for (const cmd of ['serve', 'status', 'version']) expect(top.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'))
  })
})

interface StatusJson {
  tmux: { ok: boolean; versions: { binary: string; server: string | null } | null; problem: string | null }
  server: { running: boolean; url: string; pid: number | null; listening: string[] }
  tailscale: { installed: boolean; addresses: string[] }
}

describe('handoff status', () => {
  it('--json: tmux ok with its versions, server not running', async () => {
    ctx.tmux.newSession('main')
    const r = await handoff(['status', '--json'])
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout) as StatusJson
    expect(s.tmux.ok).toBe(true)
    expect(s.tmux.problem).toBeNull()
    expect(s.tmux.versions?.binary).toMatch(/^\d+\.\d+/)
    expect(s.tmux.versions?.server).toBe(s.tmux.versions?.binary)
    expect(s.server).toEqual({ running: false, url: `http://localhost:${ctx.idlePort}`, pid: null, listening: [] })
    expect(typeof s.tailscale.installed).toBe('boolean')
    expect(Array.isArray(s.tailscale.addresses)).toBe(true)

    const human = await handoff(['status'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^server\s+not running \(start it with: handoff serve\)/m)
  })

  it('takes flags before or after the command; the one after wins', async () => {
    const before = await handoff(['--json', 'status'])
    expect(before.code).toBe(0)
    expect((JSON.parse(before.stdout) as StatusJson).tmux.ok).toBe(true)
    const both = await handoff(['--port', 'abc', 'status', '--json', '--port', String(ctx.idlePort)])
    expect(both.code).toBe(0)
    expect((JSON.parse(both.stdout) as StatusJson).server.url).toBe(`http://localhost:${ctx.idlePort}`)
  })

  it('reports a running server with its url and pid; SIGTERM stops it cleanly and removes server.json', async () => {
    const s = serve(['--port', '0'])
    const record = await waitForRecord(s)
    // --port 0 picked a port: not the default, not the one in HANDOFF_PORT.
    expect(record.port).not.toBe(7438)
    expect(record.port).not.toBe(ctx.idlePort)
    expect(record.url).toBe(`http://localhost:${record.port}`)
    expect(record.pid).toBe(s.child.pid)

    const status = await handoff(['status', '--json'])
    expect(status.code).toBe(0)
    const st = JSON.parse(status.stdout) as StatusJson
    expect(st.server).toEqual({ running: true, url: record.url, pid: s.child.pid, listening: record.listening })

    const human = await handoff(['status'])
    expect(human.stdout).toMatch(new RegExp(`^server\\s+running at ${record.url} \\(pid ${s.child.pid}`, 'm'))

    const listing = await handoff(['--json'])
    expect(listing.code).toBe(0)
    expect(JSON.parse(listing.stdout)).toMatchObject({ url: record.url, serverRunning: true })
    const listingHuman = await handoff([])
    expect(listingHuman.stdout).toContain(`Open ${record.url}`)

    s.child.kill('SIGTERM')
    expect(await s.exited).toEqual({ code: 0, signal: null })
    expect(existsSync(recordPath())).toBe(false)
    const after = JSON.parse((await handoff(['status', '--json'])).stdout) as StatusJson
    expect(after.server.running).toBe(false)
  })

  it('does not crash on a corrupt server.json, and reports the server not running', async () => {
    writeFileSync(recordPath(), '{not json')
    const r = await handoff(['status', '--json'])
    expect(r.code).toBe(0)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    const s = JSON.parse(r.stdout) as StatusJson
    expect(s.server).toMatchObject({ running: false, pid: null, listening: [] })
    const human = await handoff(['status'])
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('not running')
    const listing = await handoff(['--json'])
    expect(listing.code).toBe(0)
    expect(JSON.parse(listing.stdout)).toMatchObject({ serverRunning: false })
  })
})

describe('handoff serve', () => {
  it('prints a banner with the URL and "loopback only", and listens on loopback addresses only', async () => {
    const s = serve(['--port', '0'])
    const record = await waitForRecord(s)
    await expect.poll(s.stdout).toContain('Press Ctrl-C to stop.')
    expect(s.stdout()).toContain(`serving ${record.url}`)
    expect(s.stdout()).toContain('loopback only')
    expect(s.stdout()).not.toContain('0.0.0.0')
    expect(record.listening.length).toBeGreaterThan(0)
    for (const address of record.listening) expect(address).toMatch(new RegExp(`^(127\\.0\\.0\\.1|\\[::1\\]):${record.port}$`))
  })

  it('refuses a port that is already taken: exit 1, "already in use"', async () => {
    const first = serve(['--port', '0'])
    const record = await waitForRecord(first)
    const second = serve(['--port', String(record.port)])
    const { code } = await second.exited
    expect(code).toBe(1)
    const stderr = second.stderr()
    expect(stderr).toContain('already in use')
    expect(stderr).toContain(String(record.port))
    expect(stderr).not.toMatch(/\n\s+at /)
    // The first server is untouched and still recorded.
    expect((JSON.parse(readFileSync(recordPath(), 'utf8')) as ServerRecord).pid).toBe(first.child.pid)
  })
})

describe('bad input', () => {
  it('an unknown flag exits 2 and names it', async () => {
    for (const args of [['--bogus'], ['status', '--bogus'], ['serve', '--bogus']]) {
      const r = await handoff(args)
      expect(r.code, args.join(' ')).toBe(2)
      expectCleanError(r)
      expect(r.stderr.split('\n')[0]).toContain("unknown option '--bogus'")
      expect(r.stdout).toBe('')
    }
  })

  it.each<{ args: string[]; env: Record<string, string>; names: string; value: string }>([
    { args: ['--port', 'abc'], env: {}, names: '--port', value: '"abc"' },
    { args: ['status', '--port', 'abc'], env: {}, names: '--port', value: '"abc"' },
    { args: ['serve', '--port', '70000'], env: {}, names: '--port', value: '"70000"' },
    { args: [], env: { HANDOFF_PORT: '-1' }, names: 'HANDOFF_PORT', value: '"-1"' },
    { args: ['serve'], env: { HANDOFF_PORT: '-1' }, names: 'HANDOFF_PORT', value: '"-1"' },
    { args: ['--tmux-socket', '../x'], env: {}, names: '--tmux-socket', value: '"../x"' },
    { args: ['status', '--tmux-socket', '../x'], env: {}, names: '--tmux-socket', value: '"../x"' },
  ])('handoff $args $env: exit 2, one line naming $names and quoting $value', async ({ args, env, names, value }) => {
    const r = await handoff(args, env)
    expect(r.code).toBe(2)
    expectCleanError(r)
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(names)
    expect(lines[0]).toContain(value)
    expect(r.stdout).toBe('')
  })

  it('names the file and the system error when HANDOFF_HOME cannot be created', async () => {
    // A regular file where a folder should be: mkdir fails with ENOTDIR.
    const file = join(ctx.home, 'a-file')
    writeFileSync(file, '')
    const r = await handoff(['serve', '--local', '--port', '0'], { HANDOFF_HOME: join(file, 'home') })
    expect(r.code).toBe(1)
    expectCleanError(r)
    expect(r.stderr).toContain(`cannot mkdir ${join(file, 'home')}: ENOTDIR`)
  })

  it('without tmux on PATH, handoff exits 1 and says how to install tmux', async () => {
    const emptyBin = mkdtempSync(join(tmpdir(), 'handoff-nopath-'))
    try {
      // process.execPath keeps node itself reachable without PATH.
      const r = await handoff([], { PATH: emptyBin })
      expect(r.code).toBe(1)
      expectCleanError(r)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(r.stderr).toContain('tmux is not installed')
      expect(r.stderr).toMatch(/install tmux/)

      const status = await handoff(['status', '--json'], { PATH: emptyBin })
      expect(status.code).toBe(1)
      const s = JSON.parse(status.stdout) as StatusJson
      expect(s.tmux).toMatchObject({ ok: false, versions: null })
      expect(s.tmux.problem).toContain('install tmux')
    } finally {
      rmSync(emptyBin, { recursive: true, force: true })
    }
  })
})
