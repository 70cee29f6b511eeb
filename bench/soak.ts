// Soak test of the terminal core: many terminals for minutes, every pane
// printing all the time, terminals opened and closed, devices revoked, and
// the tmux server restarted in the middle. At the end the server must hold no
// more file descriptors, memory or tmux processes than when it started, and
// every socket must have closed with its documented code.
// `npm run build && node dist/bench/soak.js [--terminals 50] [--minutes 10]` (docs/performance.md).
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { addSignedInDevice, changeDevice, type TestDevice } from '../tests/support/device.js'
import { BenchTmux, pssBytes, processTree, ServerProcess, sleep } from './harness.js'

export interface SoakOptions {
  terminals: number
  seconds: number
  log?: (line: string) => void
}

export interface SoakReport {
  terminals: number
  seconds: number
  opened: number
  /** Close codes seen, by why the socket closed. */
  closes: Record<string, number>
  /** Closes with a code the protocol does not give for what happened. */
  unexpectedCloses: string[]
  start: Sample
  end: Sample
  problems: string[]
}

interface Sample {
  fds: number
  /** What the server's objects and buffers take, after a garbage collection: what a leak would grow. */
  objectsMiB: number
  /** The whole process (PSS), compiled code and the allocator's slack included. */
  pssMiB: number
  /** The server's child processes: its `tmux -C` control clients. */
  tmuxClients: number
}

const SESSIONS = 5
/** Every pane prints a line every this many ms, for ever. */
const PRINT_EVERY_S = 0.2

interface Open {
  ws: WebSocket
  device: TestDevice
  /** What this socket's close should say: set before we cause it. */
  expect: { code: number; reason: string } | null
}

async function sample(server: ServerProcess): Promise<Sample> {
  await server.collectGarbage()
  return {
    fds: readdirSync(`/proc/${server.pid}/fd`).length,
    objectsMiB: (await server.objectBytes()) / (1024 * 1024),
    pssMiB: pssBytes(server.pid) / (1024 * 1024),
    tmuxClients: processTree(server.pid).length - 1,
  }
}

/** Runs the soak; resolves with what it saw. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {})
  const dir = mkdtempSync(join(tmpdir(), 'handoff-soak-'))
  const home = join(dir, 'home')
  const config = join(dir, 'tmux.conf')
  writeFileSync(config, 'set -g default-shell /bin/sh\nset -g exit-empty off\nset -g status off\n')
  const tmux = new BenchTmux(config)
  const report: SoakReport = { terminals: options.terminals, seconds: options.seconds, opened: 0, closes: {}, unexpectedCloses: [], start: { fds: 0, objectsMiB: 0, pssMiB: 0, tmuxClients: 0 }, end: { fds: 0, objectsMiB: 0, pssMiB: 0, tmuxClients: 0 }, problems: [] }
  const makeSessions = () => {
    for (let s = 0; s < SESSIONS; s++) {
      tmux.run('new-session', '-d', '-s', `soak${s}`, '-x', '100', '-y', '30', `while :; do date; sleep ${PRINT_EVERY_S}; done`)
      for (let w = 1; w < Math.ceil(options.terminals / SESSIONS); w++) tmux.run('new-window', '-d', '-t', `soak${s}:`, `while :; do echo $RANDOM; sleep ${PRINT_EVERY_S}; done`)
    }
  }
  makeSessions()
  const server = await ServerProcess.start(tmux.socket, home, ['--expose-gc'])
  const origin = `http://localhost:${server.port}`
  const devices: TestDevice[] = []
  for (let i = 0; i < 5; i++) devices.push(await addSignedInDevice(home, origin))
  const open = new Set<Open>()

  const openOne = (index: number): Promise<void> => {
    const device = devices[index % devices.length]!
    const target = `/api/term/soak${index % SESSIONS}/${Math.floor(index / SESSIONS) % Math.ceil(options.terminals / SESSIONS)}`
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${target}`, { origin, headers: { host: `localhost:${server.port}`, cookie: device.cookie } })
    const entry: Open = { ws, device, expect: null }
    open.add(entry)
    report.opened++
    ws.on('message', (data: Buffer, binary) => binary && ws.send(JSON.stringify({ type: 'ack', bytes: data.length })))
    ws.on('error', () => {})
    ws.on('close', (code, reason) => {
      open.delete(entry)
      const key = `${code} ${reason.toString()}`
      report.closes[key] = (report.closes[key] ?? 0) + 1
      const want = entry.expect
      if (!want || want.code !== code || want.reason !== reason.toString()) {
        if (report.unexpectedCloses.length < 20) report.unexpectedCloses.push(`${target}: ${key}, expected ${want ? `${want.code} ${want.reason}` : 'none'}`)
      }
    })
    return new Promise((resolve) => {
      ws.once('open', () => resolve())
      ws.once('close', () => resolve())
    })
  }
  const openAll = async () => {
    for (let i = 0; open.size < options.terminals; i++) await openOne(i)
  }
  const closeOne = (entry: Open) => {
    // The phone leaving: 1000 both ways (docs/protocol.md).
    entry.expect = { code: 1000, reason: '' }
    entry.ws.close(1000)
  }

  try {
    await openAll()
    await sleep(2_000)
    report.start = await sample(server)
    log(`soak: ${open.size} terminals open; fds ${report.start.fds}, objects ${report.start.objectsMiB.toFixed(1)} MiB (PSS ${report.start.pssMiB.toFixed(1)}), ${report.start.tmuxClients} tmux -C`)

    const endAt = performance.now() + options.seconds * 1000
    let revoked = false
    let restarted = false
    let n = options.terminals
    while (performance.now() < endAt) {
      const elapsed = 1 - (endAt - performance.now()) / (options.seconds * 1000)
      // Churn: one terminal closed and another opened each tick.
      const victim = [...open][Math.floor(Math.random() * open.size)]
      if (victim) closeOne(victim)
      await openOne(n++)
      if (!revoked && elapsed > 0.3) {
        // A device revoked: its terminals close with 4403 DEVICE_REVOKED; a new device takes their place.
        revoked = true
        const gone = devices.shift()!
        for (const entry of open) if (entry.device === gone) entry.expect = { code: 4403, reason: 'DEVICE_REVOKED' }
        await changeDevice(home, gone.record.id, () => ({ status: 'revoked' }))
        devices.push(await addSignedInDevice(home, origin))
        await sleep(1_500)
        log(`soak: a device revoked; ${open.size} terminals open`)
      }
      if (!restarted && elapsed > 0.5) {
        // tmux restarted: every terminal closes with 4500 TMUX_EXITED; the phones reconnect to the new server.
        restarted = true
        for (const entry of open) entry.expect = { code: 4500, reason: 'TMUX_EXITED' }
        tmux.run('kill-server')
        await sleep(1_500)
        makeSessions()
        log(`soak: tmux restarted; ${open.size} terminals open`)
      }
      await openAll()
      await sleep(1_000)
    }
    // Back to the same number of terminals, then measure again.
    await openAll()
    await sleep(2_000)
    report.end = await sample(server)
    log(`soak: end; fds ${report.end.fds}, objects ${report.end.objectsMiB.toFixed(1)} MiB (PSS ${report.end.pssMiB.toFixed(1)}), ${report.end.tmuxClients} tmux -C`)
    if (report.end.fds > report.start.fds + 5) report.problems.push(`file descriptors grew from ${report.start.fds} to ${report.end.fds}`)
    if (report.end.tmuxClients > report.start.tmuxClients) report.problems.push(`tmux -C clients grew from ${report.start.tmuxClients} to ${report.end.tmuxClients}`)
    // Compiled code and the allocator's slack grow as V8 optimizes, and level off; objects must not grow.
    if (report.end.objectsMiB > report.start.objectsMiB + 2) {
      report.problems.push(`the server's objects grew from ${report.start.objectsMiB.toFixed(1)} to ${report.end.objectsMiB.toFixed(1)} MiB`)
    }
    if (report.unexpectedCloses.length > 0) report.problems.push(`${report.unexpectedCloses.length} socket(s) closed with a code nobody caused`)
    for (const entry of open) closeOne(entry)
    await sleep(500)
  } finally {
    await server.stop()
    tmux.kill()
    rmSync(dir, { recursive: true, force: true })
  }
  return report
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name)
    const n = i === -1 ? fallback : Number(process.argv[i + 1])
    if (!Number.isFinite(n) || n <= 0) {
      process.stderr.write(`${name} must be a positive number, got ${JSON.stringify(process.argv[i + 1])}\n`)
      process.exit(2)
    }
    return n
  }
  const report = await runSoak({ terminals: arg('--terminals', 50), seconds: arg('--minutes', 10) * 60, log: (l) => process.stderr.write(`${l}\n`) })
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  process.exit(report.problems.length === 0 ? 0 : 1)
}
