// Handoff's performance bench: throughput, keystroke echo, memory and time to
// first byte of the terminal bridge, each against a baseline measured in the
// same run; then the web app's bundle sizes and a deep link's time to the
// first terminal byte in headless Chromium (bench/web.ts). `npm run bench`;
// `--json` prints the results object instead of the table; `--rounds N` sets
// the throughput runs per mode (default 5).
// Last, the notification path: handoff notify to the event stream and to a
// push endpoint (bench/notify.ts).
// What each figure means: docs/performance.md.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BenchTmux,
  cleanEnv,
  firstOutput,
  pssBytes,
  PtyTerm,
  ServerProcess,
  settle,
  sleep,
  treePssBytes,
  waitForText,
  WsTerm,
  type Term,
} from './harness.js'
import { measureWeb, webRows } from './web.js'
import { measureNotify, NOTIFY_NOTE, notifyRows } from './notify.js'

/** Every target from the issue, with its unit. */
const TARGETS = {
  throughputRatioVsTmux: 0.95, // bridge MiB/s ÷ node-pty running `tmux attach`
  echoP50OverheadMs: 0.15,
  echoP50OverheadCeilingMs: 0.5,
  echoP99Ratio: 1.2, // bridge p99 ÷ direct p99
  idleMiB: 30,
  perTerminalMiB: 0.9, // node process alone, i.e. beyond the tmux client itself
  firstByteMs: 12,
} as const

const WORKLOAD_BYTES = 64 * 1024 * 1024
const MEMORY_TERMINALS = 10
const FIRST_BYTE_OPENS = 20
const ECHO_BLOCKS = 4
const ECHO_SAMPLES_PER_BLOCK = 100
const ECHO_WARMUP = 20
/** The whole bench gives up after this long, cleaning up as usual. */
const DEADLINE_MS = 300_000

// status off: the clock in the status line would redraw during measurements.
const TMUX_CONFIG = 'set -g default-shell /bin/sh\nset -g exit-empty off\nset -g status off\n'

const MiB = 1024 * 1024
const log = (line: string) => process.stderr.write(`bench: ${line}\n`)

function parseArgs(argv: string[]): { json: boolean; rounds: number } {
  let json = false
  let rounds = 5
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') json = true
    else if (a === '--rounds') {
      const raw = argv[++i] ?? ''
      rounds = Number(raw)
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
        process.stderr.write(`--rounds must be an integer 1-20, got ${JSON.stringify(raw)}\n`)
        process.exit(2)
      }
    } else {
      process.stderr.write(`unknown argument ${JSON.stringify(a)}; usage: run.js [--json] [--rounds N]\n`)
      process.exit(2)
    }
  }
  return { json, rounds }
}

/** Nearest-rank percentile of a sample. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? NaN
}
const median = (values: readonly number[]) => percentile(values, 50)

// ---------------------------------------------------------------- throughput

/**
 * Types the workload into a shell and times it until the end marker shows.
 * The marker is printed as two halves so the echoed command never contains it.
 */
async function timeWorkload(term: Term, id: number): Promise<{ ms: number; bytes: number }> {
  const marker = `DONE${id}Z`
  const line = 'x'.repeat(79)
  const command = `yes ${line} | head -c ${WORKLOAD_BYTES}; printf '%s%s\\n' DONE ${id}Z\r`
  const seen = waitForText(term, marker, 120_000)
  const before = term.received
  const t0 = performance.now()
  term.write(command)
  await seen
  return { ms: performance.now() - t0, bytes: term.received - before }
}

type Mode = 'direct' | 'tmux' | 'bridge'

async function openFor(mode: Mode, tmux: BenchTmux, port: number, session: string): Promise<Term> {
  if (mode === 'direct') {
    const t = new PtyTerm('/bin/sh', [], cleanEnv({ PS1: '$ ', ENV: '' }))
    await waitForText(t, '$ ', 5_000)
    return t
  }
  if (mode === 'tmux') {
    const t = new PtyTerm('tmux', tmux.attachArgv(`${session}:0`))
    await firstOutput(t, 5_000)
    return t
  }
  const t = await WsTerm.open(port, session, 0)
  await firstOutput(t, 5_000)
  return t
}

async function measureThroughput(tmux: BenchTmux, port: number, rounds: number) {
  const runs: Record<Mode, { ms: number; bytes: number }[]> = { direct: [], tmux: [], bridge: [] }
  let id = 1
  for (let r = 0; r < rounds; r++) {
    // Interleaved, so drift from other load on the machine hits every mode alike.
    for (const mode of ['direct', 'tmux', 'bridge'] as const) {
      const term = await openFor(mode, tmux, port, 'tput')
      try {
        await settle(term, 150)
        const run = await timeWorkload(term, id++)
        runs[mode].push(run)
        log(`throughput ${mode} round ${r + 1}: ${(run.ms / 1000).toFixed(2)} s, ${(run.bytes / MiB).toFixed(1)} MiB received`)
      } finally {
        await term.close()
      }
    }
  }
  const summary = (mode: Mode) => {
    const ms = median(runs[mode].map((r) => r.ms))
    return {
      medianMs: ms,
      mibPerS: WORKLOAD_BYTES / MiB / (ms / 1000),
      receivedMiB: median(runs[mode].map((r) => r.bytes)) / MiB,
      runsMs: runs[mode].map((r) => Math.round(r.ms)),
    }
  }
  const direct = summary('direct')
  const viaTmux = summary('tmux')
  const bridge = summary('bridge')
  return {
    direct,
    tmux: viaTmux,
    bridge,
    ratioVsTmux: bridge.mibPerS / viaTmux.mibPerS,
    ratioVsDirect: bridge.mibPerS / direct.mibPerS,
  }
}

// ---------------------------------------------------------------- echo

// Escape sequences (CSI, OSC, charset, two-byte) are not the echo we wait for.
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[0-9A-Za-z=>])/g
// Letters that are not the final byte of any sequence tmux writes, in case one is split across chunks.
const ECHO_KEYS = 'aefgijkouvwxyz'

/** Sends one key, resolves with the ms until it is echoed. */
function echoOnce(term: Term, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = ''
    const off = term.onData((chunk) => {
      text += chunk.toString('latin1')
      if (text.replace(ESCAPES, '').includes(key)) {
        const ms = performance.now() - t0
        clearTimeout(timer)
        off()
        resolve(ms)
      }
    })
    const timer = setTimeout(() => {
      off()
      reject(new Error(`no echo of ${JSON.stringify(key)} within 2 s`))
    }, 2_000)
    const t0 = performance.now()
    term.write(key)
  })
}

async function echoBlock(term: Term, samples: number[], count: number, warmup: number): Promise<void> {
  await settle(term, 150)
  for (let i = 0; i < warmup + count; i++) {
    const ms = await echoOnce(term, ECHO_KEYS[i % ECHO_KEYS.length] as string)
    if (i >= warmup) samples.push(ms)
    // Let trailing bytes of this echo (cursor moves) arrive before the next key.
    await sleep(2)
  }
}

async function measureEcho(tmux: BenchTmux, port: number) {
  const direct: number[] = []
  const bridge: number[] = []
  // Only one client is attached at a time: a second would double tmux's redraw work.
  for (let b = 0; b < ECHO_BLOCKS; b++) {
    const d = new PtyTerm('tmux', tmux.attachArgv('echo:0'))
    try {
      await firstOutput(d, 5_000)
      await echoBlock(d, direct, ECHO_SAMPLES_PER_BLOCK, ECHO_WARMUP)
    } finally {
      await d.close()
    }
    const w = await WsTerm.open(port, 'echo', 0)
    try {
      await firstOutput(w, 5_000)
      await echoBlock(w, bridge, ECHO_SAMPLES_PER_BLOCK, ECHO_WARMUP)
    } finally {
      await w.close()
    }
  }
  const stats = (s: number[]) => ({ p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), samples: s.length })
  const d = stats(direct)
  const w = stats(bridge)
  return { direct: d, bridge: w, p50OverheadMs: w.p50Ms - d.p50Ms, p99OverheadMs: w.p99Ms - d.p99Ms, p99Ratio: w.p99Ms / d.p99Ms }
}

// ---------------------------------------------------------------- memory

/** PSS of a bare `node` process that only waits: what any Node server starts from. */
async function bareNodePss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
  try {
    await sleep(700)
    return child.pid === undefined ? NaN : pssBytes(child.pid)
  } finally {
    child.kill('SIGKILL')
  }
}

async function measureMemory(server: ServerProcess) {
  await sleep(1_500)
  const idleNode = pssBytes(server.pid)
  const idleTree = treePssBytes(server.pid)
  const terms: WsTerm[] = []
  try {
    for (let i = 0; i < MEMORY_TERMINALS; i++) {
      const t = await WsTerm.open(server.port, 'mem', i)
      terms.push(t)
      await firstOutput(t, 5_000)
    }
    await Promise.all(terms.map((t) => settle(t, 300)))
    await sleep(1_500)
    const busyNode = pssBytes(server.pid)
    const busyTree = treePssBytes(server.pid)
    return {
      idleNodeMiB: idleNode / MiB,
      idleTreeMiB: idleTree.bytes / MiB,
      attachedNodeMiB: busyNode / MiB,
      attachedTreeMiB: busyTree.bytes / MiB,
      attachedTreeProcesses: busyTree.processes,
      perTerminalNodeMiB: (busyNode - idleNode) / MEMORY_TERMINALS / MiB,
      perTerminalTreeMiB: (busyTree.bytes - idleTree.bytes) / MEMORY_TERMINALS / MiB,
      bareNodeMiB: (await bareNodePss()) / MiB,
    }
  } finally {
    await Promise.all(terms.map((t) => t.close()))
  }
}

// ---------------------------------------------------------------- first byte

async function measureFirstByte(tmux: BenchTmux, port: number) {
  const firstByte: number[] = []
  const opened: number[] = []
  const direct: number[] = []
  for (let i = -2; i < FIRST_BYTE_OPENS; i++) {
    const t0 = performance.now()
    const { term, opened: open } = WsTerm.connect(port, 'tput', 0)
    const first = firstOutput(term, 5_000)
    await open
    const tOpen = performance.now()
    const tFirst = await first
    // The first two opens warm the server up and are not counted.
    if (i >= 0) {
      opened.push(tOpen - t0)
      firstByte.push(tFirst - t0)
    }
    await term.close()
    await sleep(30)
  }
  for (let i = 0; i < FIRST_BYTE_OPENS; i++) {
    const t0 = performance.now()
    const d = new PtyTerm('tmux', tmux.attachArgv('tput:0'))
    direct.push((await firstOutput(d, 5_000)) - t0)
    await d.close()
    await sleep(30)
  }
  return {
    medianMs: median(firstByte),
    p90Ms: percentile(firstByte, 90),
    openMedianMs: median(opened),
    directAttachMedianMs: median(direct),
    directAttachP90Ms: percentile(direct, 90),
  }
}

// ---------------------------------------------------------------- report

type Results = {
  machine: { cpu: string; cores: number; node: string; tmux: string }
  throughput: Awaited<ReturnType<typeof measureThroughput>>
  echo: Awaited<ReturnType<typeof measureEcho>>
  memory: Awaited<ReturnType<typeof measureMemory>>
  firstByte: Awaited<ReturnType<typeof measureFirstByte>>
  web: Awaited<ReturnType<typeof measureWeb>>
  notify: Awaited<ReturnType<typeof measureNotify>>
}

const verdict = (ok: boolean) => (ok ? 'pass' : 'MISS')

function table(r: Results): string {
  const { throughput: t, echo: e, memory: m, firstByte: f } = r
  const n = (x: number, digits = 1) => x.toFixed(digits)
  const rows: [string, string, string, string, string][] = [
    ['throughput, node-pty direct (a)', `${n(t.direct.mibPerS)} MiB/s`, `${n(t.direct.medianMs / 1000, 2)} s`, '', ''],
    ['throughput, node-pty + tmux attach (b)', `${n(t.tmux.mibPerS)} MiB/s`, `${n(t.tmux.medianMs / 1000, 2)} s, ${n(t.tmux.receivedMiB)} MiB drawn`, '', ''],
    ['throughput, bridge', `${n(t.bridge.mibPerS)} MiB/s`, `${n(t.bridge.medianMs / 1000, 2)} s, ${n(t.bridge.receivedMiB)} MiB drawn`, '', ''],
    ['  bridge / (b)', `${n(t.ratioVsTmux, 2)}x`, '', `>= ${TARGETS.throughputRatioVsTmux}x`, verdict(t.ratioVsTmux >= TARGETS.throughputRatioVsTmux)],
    ['  bridge / (a)', `${n(t.ratioVsDirect, 2)}x`, '', '', ''],
    ['echo p50, tmux attach direct', `${n(e.direct.p50Ms, 3)} ms`, `${e.direct.samples} keys`, '', ''],
    ['echo p50, bridge', `${n(e.bridge.p50Ms, 3)} ms`, `${e.bridge.samples} keys`, '', ''],
    [
      '  p50 overhead',
      `+${n(e.p50OverheadMs, 3)} ms`,
      '',
      `<= ${TARGETS.echoP50OverheadMs} ms (never > ${TARGETS.echoP50OverheadCeilingMs})`,
      verdict(e.p50OverheadMs <= TARGETS.echoP50OverheadMs),
    ],
    ['echo p99, tmux attach direct', `${n(e.direct.p99Ms, 3)} ms`, '', '', ''],
    ['echo p99, bridge', `${n(e.bridge.p99Ms, 3)} ms`, `+${n(e.p99OverheadMs, 3)} ms`, '', ''],
    ['  p99 bridge / direct', `${n(e.p99Ratio, 2)}x`, '', `<= ${TARGETS.echoP99Ratio}x`, verdict(e.p99Ratio <= TARGETS.echoP99Ratio)],
    ['memory idle, server process (PSS)', `${n(m.idleNodeMiB)} MiB`, `bare node: ${n(m.bareNodeMiB)} MiB`, `<= ${TARGETS.idleMiB} MiB`, verdict(m.idleNodeMiB <= TARGETS.idleMiB)],
    ['memory idle, process tree', `${n(m.idleTreeMiB)} MiB`, '', '', ''],
    [`memory ${MEMORY_TERMINALS} terminals, server process`, `${n(m.attachedNodeMiB)} MiB`, '', '', ''],
    [`memory ${MEMORY_TERMINALS} terminals, process tree`, `${n(m.attachedTreeMiB)} MiB`, `${m.attachedTreeProcesses} processes`, '', ''],
    [
      '  per terminal, server process',
      `${n(m.perTerminalNodeMiB, 2)} MiB`,
      '',
      `<= ${TARGETS.perTerminalMiB} MiB`,
      verdict(m.perTerminalNodeMiB <= TARGETS.perTerminalMiB),
    ],
    ['  per terminal, with its tmux client', `${n(m.perTerminalTreeMiB, 2)} MiB`, '', '', ''],
    ['first byte, median', `${n(f.medianMs)} ms`, `'open' at ${n(f.openMedianMs)} ms`, `<= ${TARGETS.firstByteMs} ms`, verdict(f.medianMs <= TARGETS.firstByteMs)],
    ['first byte, p90', `${n(f.p90Ms)} ms`, '', '', ''],
    ['  tmux attach direct, median / p90', `${n(f.directAttachMedianMs)} / ${n(f.directAttachP90Ms)} ms`, '', '', ''],
    ...webRows(r.web, verdict),
    ...notifyRows(r.notify),
  ]
  const head: [string, string, string, string, string] = ['figure', 'value', 'detail', 'target', '']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)))
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  const mc = r.machine
  return [
    `${mc.cpu}, ${mc.cores} cores, Node ${mc.node}, tmux ${mc.tmux}`,
    '',
    fmt(head),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...rows.map(fmt),
    '',
    NOTIFY_NOTE,
  ].join('\n')
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { json, rounds } = parseArgs(process.argv.slice(2))
  const dir = mkdtempSync(join(tmpdir(), 'handoff-bench-'))
  const home = join(dir, 'home')
  mkdirSync(home)
  const config = join(dir, 'tmux.conf')
  writeFileSync(config, TMUX_CONFIG)
  const tmux = new BenchTmux(config)
  let server: ServerProcess | undefined

  const cleanup = async () => {
    await server?.stop().catch(() => {})
    tmux.kill()
    rmSync(dir, { recursive: true, force: true })
  }
  let cleaned: Promise<void> | undefined
  const cleanupOnce = () => (cleaned ??= cleanup())
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanupOnce().finally(() => process.exit(130)))
  }
  const deadline = setTimeout(() => {
    log(`gave up after ${DEADLINE_MS / 1000} s`)
    void cleanupOnce().finally(() => process.exit(1))
  }, DEADLINE_MS)
  deadline.unref()

  try {
    const size = ['-x', '80', '-y', '24']
    tmux.run('new-session', '-d', '-s', 'tput', ...size)
    // The echo pane echoes each byte itself, as a shell or editor in raw mode does.
    tmux.run('new-session', '-d', '-s', 'echo', ...size, 'stty raw -echo; exec cat')
    tmux.run('new-session', '-d', '-s', 'mem', ...size)
    for (let i = 1; i < MEMORY_TERMINALS; i++) tmux.run('new-window', '-d', '-t', 'mem:')

    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
    const machine = {
      cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown cpu',
      cores: availableParallelism(),
      node: process.version,
      tmux: tmux.run('-V').trim().replace(/^tmux\s+/, ''),
    }

    server = await ServerProcess.start(tmux.socket, home)
    log(`server pid ${server.pid} on port ${server.port}, tmux -L ${tmux.socket}`)
    // Memory first, while the server has served nothing else.
    log('memory: idle, then 10 terminals')
    const memory = await measureMemory(server)
    log('first byte: 20 opens')
    const firstByte = await measureFirstByte(tmux, server.port)
    log('echo: 4 x 100 keys per mode')
    const echo = await measureEcho(tmux, server.port)
    log(`throughput: ${rounds} rounds x 3 modes x 64 MiB`)
    const throughput = await measureThroughput(tmux, server.port, rounds)
    log('notify: handoff notify to the event stream and to a loopback push endpoint, 32 runs')
    const notify = await measureNotify({ port: server.port, home, cookie: WsTerm.cookie, dir: join(dir, 'notify'), log })
    log('web: bundle sizes, then deep link /t/main/0 in Chromium')
    tmux.run('new-session', '-d', '-s', 'main', ...size)
    const web = await measureWeb(server.port, WsTerm.cookie, 'main')

    const results: Results = { machine, throughput, echo, memory, firstByte, web, notify }
    process.stdout.write(json ? `${JSON.stringify(results, null, 2)}\n` : table(results))
  } finally {
    clearTimeout(deadline)
    await cleanupOnce()
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
