// Handoff's performance bench: the terminal core (memory, ten idle terminals,
// time to first byte, the JSON API, keystroke echo, throughput), each against
// a baseline measured in the same run (mostly a direct `tmux attach` in
// node-pty); then the notification path (bench/notify.ts) and the web app's
// bundle sizes and time to a live terminal in headless Chromium, on loopback
// and at a phone's round-trip time (bench/web.ts).
// `npm run bench`; `--json` prints the results object instead of the table;
// `--rounds N` sets the throughput runs per mode (default 5); `--only a,b`
// runs some sections (names in SECTIONS).
// What each figure means: docs/performance.md.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BenchTmux,
  cleanEnv,
  firstOutput,
  processCpu,
  pssBytes,
  PtyTerm,
  ServerProcess,
  settle,
  sleep,
  treeCpu,
  treePssBytes,
  waitForText,
  within,
  WsTerm,
  type Term,
} from './harness.js'
import { measureWeb, webRows } from './web.js'
import { measureNotify, NOTIFY_NOTE, notifyRows } from './notify.js'

/** Every target from the issue, with its unit. */
const TARGETS = {
  throughputRatioVsTmux: 0.95, // Handoff MiB/s ÷ node-pty running `tmux attach`
  echoP50OverheadMs: 0.15, // Handoff p50 − direct attach p50
  echoP50OverheadCeilingMs: 0.5,
  echoP99Ratio: 1.2, // Handoff p99 ÷ direct attach p99
  idleMiB: 30, // the server process, PSS, before any terminal
  perTerminalMiB: 0.9, // the server process and its `tmux -C` children (tree PSS), per open terminal
  firstByteMs: 12, // `new WebSocket` to the first binary frame, median
  idleTmuxSpawns: 0, // tmux processes started while 10 terminals sit idle
  idleCpuPercent: 1, // of one core, the server process tree, while 10 terminals sit idle
  apiP50Ms: 5, // each of GET /api/me, /api/sessions, /api/sessions/:s/windows
} as const

const WORKLOAD_BYTES = 64 * 1024 * 1024
/** Terminals open at once for the memory and idle sections, each on a session of its own. */
const OPEN_TERMINALS = 10
/** The idle memory reading waits until the server has run this long (ms). */
const IDLE_SETTLE_MS = 12_000
const IDLE_MS = 60_000
const FIRST_BYTE_OPENS = 20
const FIRST_BYTE_WARMUP = 2
/** What the web app asks for by default (`?history=`, web/terminal/settings.ts). */
const APP_HISTORY_LINES = 1000
/** Lines printed into the history session's pane: more than it asks for (tmux keeps 2000 by default). */
const HISTORY_FILL = 3000
const ECHO_BLOCKS = 4
const ECHO_SAMPLES_PER_BLOCK = 100
const ECHO_WARMUP = 20
const API_REQUESTS = 200
const API_WARMUP = 20
/** Windows of the session the API section lists. */
const API_WINDOWS = 3
/**
 * The whole bench gives up after this long, cleaning up as usual: about 4
 * minutes of measuring on a quiet machine (60 s of it the idle section),
 * with room for a loaded one.
 */
const DEADLINE_MS = 480_000

/** The sections, in the order they run; `--only` takes a comma-separated subset. */
const SECTIONS = ['memory', 'idle', 'first-byte', 'api', 'echo', 'throughput', 'notify', 'web'] as const
type Section = (typeof SECTIONS)[number]

// status off: the clock in the status line would redraw during measurements.
const TMUX_CONFIG = 'set -g default-shell /bin/sh\nset -g exit-empty off\nset -g status off\n'

const MiB = 1024 * 1024
const log = (line: string) => process.stderr.write(`bench: ${line}\n`)

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: run.js [--json] [--rounds N] [--only ${SECTIONS.join(',')}]\n`)
  process.exit(2)
}

function parseArgs(argv: string[]): { json: boolean; rounds: number; only: Set<Section> } {
  let json = false
  let rounds = 5
  let only = new Set<Section>(SECTIONS)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') json = true
    else if (a === '--rounds') {
      const raw = argv[++i] ?? ''
      rounds = Number(raw)
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) usage(`--rounds must be an integer 1-20, got ${JSON.stringify(raw)}`)
    } else if (a === '--only') {
      const raw = argv[++i] ?? ''
      const names = raw.split(',').map((n) => n.trim()).filter((n) => n !== '')
      const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n))
      if (names.length === 0 || unknown.length > 0) usage(`--only takes section names separated by commas, got ${JSON.stringify(raw)}`)
      only = new Set(names as Section[])
    } else usage(`unknown argument ${JSON.stringify(a)}`)
  }
  return { json, rounds, only }
}

/** Nearest-rank percentile of a sample. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? NaN
}
const median = (values: readonly number[]) => percentile(values, 50)

// ---------------------------------------------------------------- sessions

/**
 * The tmux sessions the bench measures in. A direct `tmux attach` and Handoff
 * never share a session: Handoff's control client stays attached to the last
 * session it served (for 30 s, as the line its commands go over), and would
 * otherwise receive that session's output while the direct client is timed.
 */
const SESSIONS = {
  throughputDirect: 'tput',
  throughputHandoff: 'tputh',
  echoDirect: 'echo',
  echoHandoff: 'echoh',
  /** mem0 … mem9: one terminal each, for memory and idle. */
  open: (i: number) => `mem${i}`,
  /** Reopened over and over: its control client stays attached between opens. */
  firstByte: 'fb',
  firstByteDirect: 'fbd',
  /** Has HISTORY_FILL lines of history; opened with ?history=APP_HISTORY_LINES, as the web app does. */
  firstByteHistory: 'fbh',
  /** cold0 …: each opened once, so each open attaches a control client of its own. */
  cold: (i: number) => `cold${i}`,
  api: 'api',
  web: 'main',
} as const

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

type Mode = 'direct' | 'tmux' | 'handoff'

async function openFor(mode: Mode, tmux: BenchTmux, port: number): Promise<Term> {
  if (mode === 'direct') {
    const t = new PtyTerm('/bin/sh', [], cleanEnv({ PS1: '$ ', ENV: '' }))
    await waitForText(t, '$ ', 5_000)
    return t
  }
  if (mode === 'tmux') {
    const t = new PtyTerm('tmux', tmux.attachArgv(`${SESSIONS.throughputDirect}:0`))
    await firstOutput(t, 5_000)
    return t
  }
  const t = await WsTerm.open(port, SESSIONS.throughputHandoff, 0)
  await within(t.firstFrame, 5_000, `the first frame of ${SESSIONS.throughputHandoff}:0`)
  return t
}

async function measureThroughput(tmux: BenchTmux, port: number, rounds: number) {
  const runs: Record<Mode, { ms: number; bytes: number }[]> = { direct: [], tmux: [], handoff: [] }
  let id = 1
  for (let r = 0; r < rounds; r++) {
    // Interleaved, so drift from other load on the machine hits every mode alike.
    for (const mode of ['direct', 'tmux', 'handoff'] as const) {
      const term = await openFor(mode, tmux, port)
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
  const handoff = summary('handoff')
  return {
    direct,
    tmux: viaTmux,
    handoff,
    ratioVsTmux: handoff.mibPerS / viaTmux.mibPerS,
    ratioVsDirect: handoff.mibPerS / direct.mibPerS,
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
  const handoff: number[] = []
  // One client at a time: the direct attach and Handoff each in a session of their own.
  for (let b = 0; b < ECHO_BLOCKS; b++) {
    const d = new PtyTerm('tmux', tmux.attachArgv(`${SESSIONS.echoDirect}:0`))
    try {
      await firstOutput(d, 5_000)
      await echoBlock(d, direct, ECHO_SAMPLES_PER_BLOCK, ECHO_WARMUP)
    } finally {
      await d.close()
    }
    const w = await WsTerm.open(port, SESSIONS.echoHandoff, 0)
    try {
      await within(w.firstFrame, 5_000, `the first frame of ${SESSIONS.echoHandoff}:0`)
      await echoBlock(w, handoff, ECHO_SAMPLES_PER_BLOCK, ECHO_WARMUP)
    } finally {
      await w.close()
    }
  }
  const stats = (s: number[]) => ({ p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), samples: s.length })
  const d = stats(direct)
  const w = stats(handoff)
  return {
    direct: d,
    handoff: w,
    p50OverheadMs: w.p50Ms - d.p50Ms,
    p50Ratio: w.p50Ms / d.p50Ms,
    p99OverheadMs: w.p99Ms - d.p99Ms,
    p99Ratio: w.p99Ms / d.p99Ms,
  }
}

// ---------------------------------------------------------------- memory and idle

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

/** PSS of one `tmux attach` client, as a desktop terminal runs it: 10 at once on mem0…mem9, summed ÷ 10. */
async function directAttachPss(tmux: BenchTmux): Promise<number> {
  const clients: PtyTerm[] = []
  try {
    for (let i = 0; i < OPEN_TERMINALS; i++) {
      const t = new PtyTerm('tmux', tmux.attachArgv(`${SESSIONS.open(i)}:0`))
      clients.push(t)
      await firstOutput(t, 5_000)
    }
    await sleep(1_500)
    return clients.reduce((sum, t) => sum + pssBytes(t.pid), 0) / clients.length
  } finally {
    await Promise.all(clients.map((t) => t.close()))
  }
}

/** Opens one terminal on each of mem0…mem9 and waits until each has drawn its screen. */
async function openTerminals(port: number): Promise<WsTerm[]> {
  const terms: WsTerm[] = []
  try {
    for (let i = 0; i < OPEN_TERMINALS; i++) {
      const t = WsTerm.connect(port, SESSIONS.open(i), 0)
      terms.push(t.term)
      await t.opened
      await within(t.term.firstFrame, 5_000, `the first frame of ${SESSIONS.open(i)}:0`)
    }
    await Promise.all(terms.map((t) => settle(t, 300)))
    return terms
  } catch (err) {
    await Promise.all(terms.map((t) => t.close()))
    throw err
  }
}

type IdlePss = { node: number; tree: number }

/**
 * The server before it served anything: its own PSS and its tree's (no
 * children yet). Read once it has run IDLE_SETTLE_MS, after a garbage
 * collection: a server just started holds several MiB it gives back within
 * its first seconds, as any idle server soon has.
 */
async function idlePss(server: ServerProcess): Promise<IdlePss> {
  await sleep(server.startedAt + IDLE_SETTLE_MS - performance.now())
  await server.collectGarbage()
  return { node: pssBytes(server.pid), tree: treePssBytes(server.pid).bytes }
}

/** With the terminals open: the same readings, after the same garbage collection. */
async function measureMemory(server: ServerProcess, idle: IdlePss, directPerClient: number) {
  await sleep(1_500)
  await server.collectGarbage()
  const busyNode = pssBytes(server.pid)
  const busyTree = treePssBytes(server.pid)
  return {
    idleNodeMiB: idle.node / MiB,
    idleTreeMiB: idle.tree / MiB,
    terminals: OPEN_TERMINALS,
    openNodeMiB: busyNode / MiB,
    openTreeMiB: busyTree.bytes / MiB,
    openTreeProcesses: busyTree.processes,
    perTerminalNodeMiB: (busyNode - idle.node) / OPEN_TERMINALS / MiB,
    perTerminalTreeMiB: (busyTree.bytes - idle.tree) / OPEN_TERMINALS / MiB,
    /** The server's children are its `tmux -C` clients: one per session shown, and one kept for commands. */
    controlClientMiB: (busyTree.bytes - busyNode) / Math.max(1, busyTree.processes - 1) / MiB,
    directAttachClientMiB: directPerClient / MiB,
    perTerminalRatioVsDirect: (busyTree.bytes - idle.tree) / OPEN_TERMINALS / directPerClient,
    bareNodeMiB: (await bareNodePss()) / MiB,
  }
}

/**
 * With the terminals open and nothing happening in their panes, for IDLE_MS:
 * how many tmux processes the server starts (it counts them itself,
 * tmuxSpawns()) and how much CPU the server process tree uses (its own, its
 * reaped children's and its live `tmux -C` children's, from /proc/PID/stat).
 */
async function measureIdle(server: ServerProcess, terms: WsTerm[], tmuxServerPid: number) {
  // Let the opens' trailing work (layouts, syncs, size claims) finish first.
  await sleep(2_000)
  const spawnsBefore = await server.tmuxSpawns()
  const received = () => terms.reduce((sum, t) => sum + t.frameBytes, 0)
  const bytesBefore = received()
  const tmuxBefore = processCpu(tmuxServerPid)
  const before = treeCpu(server.pid)
  const t0 = performance.now()
  await sleep(IDLE_MS)
  const after = treeCpu(server.pid)
  const tmuxAfter = processCpu(tmuxServerPid)
  const wallS = (performance.now() - t0) / 1000
  const spawnsAfter = await server.tmuxSpawns()
  const treeAtEnd = treePssBytes(server.pid)
  const cpuS = after.seconds - before.seconds
  return {
    terminals: terms.length,
    openAtEnd: terms.filter((t) => t.isOpen).length,
    seconds: wallS,
    tmuxSpawns: spawnsAfter - spawnsBefore,
    /** tmuxSpawns() of the server process when the idle minute ended, since its start. */
    tmuxSpawnsTotal: spawnsAfter,
    cpuSeconds: cpuS,
    cpuPercentOfOneCore: (cpuS / wallS) * 100,
    serverOwnCpuSeconds: after.own - before.own,
    childrenCpuSeconds: after.children - before.children,
    liveChildren: after.liveChildren,
    tmuxServerCpuPercentOfOneCore: ((tmuxAfter.own - tmuxBefore.own) / wallS) * 100,
    bytesReceived: received() - bytesBefore,
    /** PSS when the minute is over, beside the memory section's reading before it. */
    nodeMiBAtEnd: pssBytes(server.pid) / MiB,
    treeMiBAtEnd: treeAtEnd.bytes / MiB,
    treeProcessesAtEnd: treeAtEnd.processes,
  }
}

// ---------------------------------------------------------------- first byte

/** Opens a terminal on `session`:0; resolves with the times from `new WebSocket`, then closes it. */
async function timeOpen(port: number, session: string, history?: number) {
  const t0 = performance.now()
  const { term, opened } = WsTerm.connect(port, session, 0, history === undefined ? {} : { history })
  try {
    await opened
    const tFirst = await within(term.firstFrame, 5_000, `the first frame of ${session}:0`)
    return { openMs: (term.openedAt ?? NaN) - t0, layoutMs: (term.firstControlAt ?? NaN) - t0, firstByteMs: tFirst - t0, firstFrameBytes: term.firstFrameBytes }
  } finally {
    await term.close()
  }
}

async function measureFirstByte(tmux: BenchTmux, port: number) {
  const warm: Awaited<ReturnType<typeof timeOpen>>[] = []
  const cold: number[] = []
  const direct: number[] = []
  // The same window again and again: its session's control client stays attached between opens.
  for (let i = -FIRST_BYTE_WARMUP; i < FIRST_BYTE_OPENS; i++) {
    const t = await timeOpen(port, SESSIONS.firstByte)
    if (i >= 0) warm.push(t)
    await sleep(30)
  }
  // As the app opens a terminal: with its default of history lines, from a pane that has that many.
  const withHistory: number[] = []
  let historyBytes = 0
  for (let i = -FIRST_BYTE_WARMUP; i < FIRST_BYTE_OPENS; i++) {
    const t = await timeOpen(port, SESSIONS.firstByteHistory, APP_HISTORY_LINES)
    if (i >= 0) withHistory.push(t.firstByteMs)
    historyBytes = t.firstFrameBytes
    await sleep(30)
  }
  // A session no terminal has shown yet: the spare control client moves there (or, with none, one is started).
  const coldCount = FIRST_BYTE_WARMUP + FIRST_BYTE_OPENS
  for (let i = 0; i < coldCount; i++) tmux.run('new-session', '-d', '-s', SESSIONS.cold(i), '-x', '80', '-y', '24')
  try {
    await sleep(300)
    for (let i = 0; i < coldCount; i++) {
      const t = await timeOpen(port, SESSIONS.cold(i))
      if (i >= FIRST_BYTE_WARMUP) cold.push(t.firstByteMs)
      await sleep(30)
    }
  } finally {
    for (let i = 0; i < coldCount; i++) {
      try {
        tmux.run('kill-session', '-t', `=${SESSIONS.cold(i)}`)
      } catch {
        // already gone
      }
    }
  }
  for (let i = 0; i < FIRST_BYTE_OPENS; i++) {
    const t0 = performance.now()
    const d = new PtyTerm('tmux', tmux.attachArgv(`${SESSIONS.firstByteDirect}:0`))
    direct.push((await firstOutput(d, 5_000)) - t0)
    await d.close()
    await sleep(30)
  }
  const firstBytes = warm.map((t) => t.firstByteMs)
  const directMedian = median(direct)
  return {
    opens: FIRST_BYTE_OPENS,
    medianMs: median(firstBytes),
    p90Ms: percentile(firstBytes, 90),
    openMedianMs: median(warm.map((t) => t.openMs)),
    layoutMedianMs: median(warm.map((t) => t.layoutMs)),
    ratioVsDirect: median(firstBytes) / directMedian,
    historyLines: APP_HISTORY_LINES,
    historyMedianMs: median(withHistory),
    historyP90Ms: percentile(withHistory, 90),
    historyRatioVsDirect: median(withHistory) / directMedian,
    historyFirstFrameBytes: historyBytes,
    coldMedianMs: median(cold),
    coldP90Ms: percentile(cold, 90),
    coldRatioVsDirect: median(cold) / directMedian,
    directAttachMedianMs: directMedian,
    directAttachP90Ms: percentile(direct, 90),
  }
}

// ---------------------------------------------------------------- API

/** One GET over `agent` (keep-alive, one socket); resolves with the ms until the whole body arrived. */
function timedGet(agent: Agent, port: number, path: string, signedIn: boolean): Promise<{ ms: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent,
        headers: { host: `localhost:${port}`, accept: 'application/json', ...(signedIn ? { cookie: WsTerm.cookie } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const ms = performance.now() - t0
          const body = Buffer.concat(chunks)
          if (res.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${body.toString('utf8').slice(0, 200)}`))
          else resolve({ ms, body })
        })
        res.on('error', reject)
      },
    )
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${path}: no answer within 5 s`)))
    req.on('error', reject)
    req.end()
  })
}

/**
 * The three API reads the app makes, signed in, on loopback, one request at
 * a time over one keep-alive connection, interleaved round by round; and
 * `GET /api/health` without the cookie (no sign-in, no tmux) as the floor of
 * an HTTP round trip to this server.
 */
async function measureApi(server: ServerProcess) {
  const routes = {
    health: '/api/health',
    me: '/api/me',
    sessions: '/api/sessions',
    windows: `/api/sessions/${SESSIONS.api}/windows`,
  } as const
  type Route = keyof typeof routes
  const names = Object.keys(routes) as Route[]
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Route, number[]>
  const bytes = {} as Record<Route, number>
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  let spawnsBefore = 0
  let sessionCount = 0
  try {
    for (let i = -API_WARMUP; i < API_REQUESTS; i++) {
      if (i === 0) spawnsBefore = await server.tmuxSpawns()
      for (const name of names) {
        const r = await timedGet(agent, server.port, routes[name], name !== 'health')
        if (i >= 0) samples[name].push(r.ms)
        bytes[name] = r.body.length
        if (name === 'sessions') sessionCount = (JSON.parse(r.body.toString('utf8')) as unknown[]).length
      }
    }
  } finally {
    agent.destroy()
  }
  const spawns = (await server.tmuxSpawns()) - spawnsBefore
  const health = median(samples.health)
  const stat = (name: Route) => ({
    path: routes[name],
    p50Ms: median(samples[name]),
    p99Ms: percentile(samples[name], 99),
    ratioVsHealth: median(samples[name]) / health,
    responseBytes: bytes[name],
  })
  return {
    requests: API_REQUESTS,
    /** How many sessions /api/sessions listed. */
    sessionsListed: sessionCount,
    health: stat('health'),
    me: stat('me'),
    sessions: stat('sessions'),
    windows: stat('windows'),
    /** tmux processes the server started during the counted requests. */
    tmuxSpawns: spawns,
  }
}

// ---------------------------------------------------------------- report

type Results = {
  date: string
  machine: { cpu: string; cores: number; node: string; tmux: string }
  /** os.loadavg() (1, 5, 15 min) when the bench started and when it ended. */
  load: { start: number[]; end: number[] }
  sections: Section[]
  memory?: Awaited<ReturnType<typeof measureMemory>>
  idle?: Awaited<ReturnType<typeof measureIdle>>
  firstByte?: Awaited<ReturnType<typeof measureFirstByte>>
  api?: Awaited<ReturnType<typeof measureApi>>
  echo?: Awaited<ReturnType<typeof measureEcho>>
  throughput?: Awaited<ReturnType<typeof measureThroughput>>
  notify?: Awaited<ReturnType<typeof measureNotify>>
  web?: Awaited<ReturnType<typeof measureWeb>>
}

/** figure, value, baseline (same run), ratio to the baseline, target, verdict. */
type Row = [string, string, string, string, string, string]

const verdict = (ok: boolean) => (ok ? 'pass' : 'MISS')

function table(r: Results): string {
  const n = (x: number, digits = 1) => x.toFixed(digits)
  const x = (ratio: number) => `${n(ratio, 2)}x`
  const rows: Row[] = []
  const m = r.memory
  if (m) {
    rows.push(
      ['memory idle, server process (PSS)', `${n(m.idleNodeMiB)} MiB`, `bare node ${n(m.bareNodeMiB)} MiB`, '', `<= ${TARGETS.idleMiB} MiB`, verdict(m.idleNodeMiB <= TARGETS.idleMiB)],
      ['memory idle, process tree', `${n(m.idleTreeMiB)} MiB`, '', '', '', ''],
      [`memory ${m.terminals} terminals (${m.terminals} sessions), server process`, `${n(m.openNodeMiB)} MiB`, '', '', '', ''],
      [`memory ${m.terminals} terminals, process tree`, `${n(m.openTreeMiB)} MiB`, `${m.openTreeProcesses} processes`, '', '', ''],
      [
        '  per terminal, server + its tmux -C (tree)',
        `${n(m.perTerminalTreeMiB, 2)} MiB`,
        `tmux attach client ${n(m.directAttachClientMiB, 2)} MiB`,
        x(m.perTerminalRatioVsDirect),
        `<= ${TARGETS.perTerminalMiB} MiB`,
        verdict(m.perTerminalTreeMiB <= TARGETS.perTerminalMiB),
      ],
      ['  per terminal, server process alone', `${n(m.perTerminalNodeMiB, 2)} MiB`, '', '', '', ''],
      [
        '  each tmux -C client (tree - server) / count',
        `${n(m.controlClientMiB, 2)} MiB`,
        `tmux attach client ${n(m.directAttachClientMiB, 2)} MiB`,
        x(m.controlClientMiB / m.directAttachClientMiB),
        '',
        '',
      ],
    )
  }
  const i = r.idle
  if (i) {
    const idleLabel = `idle ${i.terminals} terminals ${n(i.seconds, 0)} s`
    rows.push(
      [`${idleLabel}: tmux processes started`, String(i.tmuxSpawns), `${i.openAtEnd}/${i.terminals} still open, ${i.bytesReceived} B sent`, '', `= ${TARGETS.idleTmuxSpawns}`, verdict(i.tmuxSpawns === TARGETS.idleTmuxSpawns && i.openAtEnd === i.terminals)],
      [
        `${idleLabel}: CPU, server + tmux -C`,
        `${n(i.cpuPercentOfOneCore, 2)} % of a core`,
        `tmux server ${n(i.tmuxServerCpuPercentOfOneCore, 2)} %`,
        '',
        `< ${TARGETS.idleCpuPercent} %`,
        verdict(i.cpuPercentOfOneCore < TARGETS.idleCpuPercent),
      ],
      ['  CPU s: server own / children', `${n(i.serverOwnCpuSeconds, 2)} / ${n(i.childrenCpuSeconds, 2)} s`, `${i.liveChildren} live children`, '', '', ''],
      ['  PSS at the end: server process / tree', `${n(i.nodeMiBAtEnd)} / ${n(i.treeMiBAtEnd)} MiB`, `${i.treeProcessesAtEnd} processes`, '', '', ''],
    )
  }
  const f = r.firstByte
  if (f) {
    rows.push(
      [
        'first byte, median (client attached)',
        `${n(f.medianMs)} ms`,
        `tmux attach ${n(f.directAttachMedianMs)} ms`,
        x(f.ratioVsDirect),
        `<= ${TARGETS.firstByteMs} ms`,
        verdict(f.medianMs <= TARGETS.firstByteMs),
      ],
      ['  p90', `${n(f.p90Ms)} ms`, `tmux attach p90 ${n(f.directAttachP90Ms)} ms`, '', '', ''],
      ["  'open' / layout frame, medians", `${n(f.openMedianMs)} / ${n(f.layoutMedianMs)} ms`, '', '', '', ''],
      [
        `first byte, median (?history=${f.historyLines}, as the app)`,
        `${n(f.historyMedianMs)} ms`,
        `tmux attach ${n(f.directAttachMedianMs)} ms`,
        x(f.historyRatioVsDirect),
        `<= ${TARGETS.firstByteMs} ms`,
        verdict(f.historyMedianMs <= TARGETS.firstByteMs),
      ],
      ['  p90; first frame', `${n(f.historyP90Ms)} ms`, `${(f.historyFirstFrameBytes / 1024).toFixed(1)} KiB`, '', '', ''],
      [
        'first byte, median (another session: first open)',
        `${n(f.coldMedianMs)} ms`,
        `tmux attach ${n(f.directAttachMedianMs)} ms`,
        x(f.coldRatioVsDirect),
        `<= ${TARGETS.firstByteMs} ms`,
        verdict(f.coldMedianMs <= TARGETS.firstByteMs),
      ],
      ['  p90', `${n(f.coldP90Ms)} ms`, '', '', '', ''],
    )
  }
  const a = r.api
  if (a) {
    const api = (label: string, s: typeof a.me): Row => [
      `GET ${label}, p50 / p99`,
      `${n(s.p50Ms, 2)} / ${n(s.p99Ms, 2)} ms`,
      `/api/health ${n(a.health.p50Ms, 2)} ms`,
      x(s.ratioVsHealth),
      `p50 <= ${TARGETS.apiP50Ms} ms`,
      verdict(s.p50Ms <= TARGETS.apiP50Ms),
    ]
    rows.push(
      api('/api/me', a.me),
      api(`/api/sessions (${a.sessionsListed} listed)`, a.sessions),
      api(`/api/sessions/${SESSIONS.api}/windows`, a.windows),
      [`  ${a.requests} requests each: tmux processes started`, String(a.tmuxSpawns), `/api/health p99 ${n(a.health.p99Ms, 2)} ms`, '', '', ''],
    )
  }
  const e = r.echo
  if (e) {
    rows.push(
      [
        'echo p50',
        `${n(e.handoff.p50Ms, 3)} ms`,
        `tmux attach ${n(e.direct.p50Ms, 3)} ms`,
        `+${n(e.p50OverheadMs, 3)} ms, ${x(e.p50Ratio)}`,
        `<= +${TARGETS.echoP50OverheadMs} ms (never +${TARGETS.echoP50OverheadCeilingMs})`,
        verdict(e.p50OverheadMs <= TARGETS.echoP50OverheadMs),
      ],
      ['echo p99', `${n(e.handoff.p99Ms, 3)} ms`, `tmux attach ${n(e.direct.p99Ms, 3)} ms`, x(e.p99Ratio), `<= ${TARGETS.echoP99Ratio}x`, verdict(e.p99Ratio <= TARGETS.echoP99Ratio)],
      ['  keys per path', String(e.handoff.samples), '', '', '', ''],
    )
  }
  const t = r.throughput
  if (t) {
    rows.push(
      ['throughput, node-pty direct (a)', `${n(t.direct.mibPerS)} MiB/s`, `${n(t.direct.medianMs / 1000, 2)} s`, '', '', ''],
      ['throughput, node-pty + tmux attach (b)', `${n(t.tmux.mibPerS)} MiB/s`, `${n(t.tmux.medianMs / 1000, 2)} s, ${n(t.tmux.receivedMiB)} MiB drawn`, '', '', ''],
      [
        'throughput, Handoff',
        `${n(t.handoff.mibPerS)} MiB/s`,
        `(b) ${n(t.tmux.mibPerS)} MiB/s`,
        x(t.ratioVsTmux),
        `>= ${TARGETS.throughputRatioVsTmux}x (b)`,
        verdict(t.ratioVsTmux >= TARGETS.throughputRatioVsTmux),
      ],
      ['  Handoff: time, drawn; ratio to (a)', `${n(t.handoff.medianMs / 1000, 2)} s`, `${n(t.handoff.receivedMiB)} MiB drawn`, x(t.ratioVsDirect), '', ''],
    )
  }
  const pad = (row: [string, string, string, string, string]): Row => [row[0], row[1], row[2], '', row[3], row[4]]
  if (r.notify) rows.push(...notifyRows(r.notify).map(pad))
  if (r.web) rows.push(...webRows(r.web, verdict).map(pad))
  const head: Row = ['figure', 'value', 'baseline (same run)', 'ratio', 'target', '']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)))
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  const mc = r.machine
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ')
  return [
    `${mc.cpu}, ${mc.cores} cores, Node ${mc.node}, tmux ${mc.tmux}; ${r.date}; load average ${load(r.load.start)} at start, ${load(r.load.end)} at end`,
    '',
    fmt(head),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...rows.map(fmt),
    '',
    ...(r.notify ? [NOTIFY_NOTE] : []),
  ].join('\n')
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { json, rounds, only } = parseArgs(process.argv.slice(2))
  const dir = mkdtempSync(join(tmpdir(), 'handoff-bench-'))
  const home = join(dir, 'home')
  mkdirSync(home)
  const config = join(dir, 'tmux.conf')
  writeFileSync(config, TMUX_CONFIG)
  const tmux = new BenchTmux(config)
  let server: ServerProcess | undefined
  let openTerms: WsTerm[] = []

  const cleanup = async () => {
    await Promise.all(openTerms.map((t) => t.close()))
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
    const rawPane = 'stty raw -echo; exec cat'
    for (const s of [SESSIONS.throughputDirect, SESSIONS.throughputHandoff, SESSIONS.firstByte, SESSIONS.firstByteDirect]) {
      tmux.run('new-session', '-d', '-s', s, ...size)
    }
    // The echo panes echo each byte themselves, as a shell or editor in raw mode does.
    tmux.run('new-session', '-d', '-s', SESSIONS.echoDirect, ...size, rawPane)
    tmux.run('new-session', '-d', '-s', SESSIONS.echoHandoff, ...size, rawPane)
    for (let i = 0; i < OPEN_TERMINALS; i++) tmux.run('new-session', '-d', '-s', SESSIONS.open(i), ...size)
    tmux.run('new-session', '-d', '-s', SESSIONS.firstByteHistory, ...size, `seq -f 'history line %g' 1 ${HISTORY_FILL}; exec /bin/sh`)
    tmux.run('new-session', '-d', '-s', SESSIONS.api, ...size)
    for (let i = 1; i < API_WINDOWS; i++) tmux.run('new-window', '-d', '-t', `${SESSIONS.api}:`)
    const tmuxServerPid = Number(tmux.run('display-message', '-p', '#{pid}').trim())

    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
    const machine = {
      cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown cpu',
      cores: availableParallelism(),
      node: process.version,
      tmux: tmux.run('-V').trim().replace(/^tmux\s+/, ''),
    }
    const results: Results = { date: new Date().toISOString(), machine, load: { start: loadavg(), end: [] }, sections: SECTIONS.filter((s) => only.has(s)) }

    // --expose-gc only lets the bench ask for a collection before each memory reading (bench/server-process.ts).
    server = await ServerProcess.start(tmux.socket, home, ['--expose-gc'])
    log(`server pid ${server.pid} on port ${server.port}, tmux -L ${tmux.socket}; sections: ${results.sections.join(', ')}`)
    if (only.has('memory') || only.has('idle')) {
      // Memory first, while the server has served nothing else.
      let idle: IdlePss | undefined
      let directPerClient = NaN
      if (only.has('memory')) {
        log('memory: idle, then one `tmux attach` client per session')
        idle = await idlePss(server)
        directPerClient = await directAttachPss(tmux)
      }
      log(`${OPEN_TERMINALS} terminals on ${OPEN_TERMINALS} sessions`)
      openTerms = await openTerminals(server.port)
      if (idle) results.memory = await measureMemory(server, idle, directPerClient)
      if (only.has('idle')) {
        log(`idle: ${OPEN_TERMINALS} terminals open, nothing happening, ${IDLE_MS / 1000} s`)
        results.idle = await measureIdle(server, openTerms, tmuxServerPid)
        log(`idle: ${results.idle.tmuxSpawns} tmux processes started, ${results.idle.cpuPercentOfOneCore.toFixed(2)} % of a core`)
      }
      await Promise.all(openTerms.map((t) => t.close()))
      openTerms = []
    }
    if (only.has('first-byte')) {
      log(`first byte: ${FIRST_BYTE_OPENS} opens of one window, ${FIRST_BYTE_OPENS} of new sessions`)
      results.firstByte = await measureFirstByte(tmux, server.port)
    }
    if (only.has('api')) {
      log(`api: ${API_REQUESTS} x 4 GETs`)
      results.api = await measureApi(server)
    }
    if (only.has('echo')) {
      log(`echo: ${ECHO_BLOCKS} x ${ECHO_SAMPLES_PER_BLOCK} keys per path`)
      results.echo = await measureEcho(tmux, server.port)
    }
    if (only.has('throughput')) {
      log(`throughput: ${rounds} rounds x 3 modes x 64 MiB`)
      results.throughput = await measureThroughput(tmux, server.port, rounds)
    }
    if (only.has('notify')) {
      log('notify: handoff notify to the event stream and to a loopback push endpoint, 32 runs')
      results.notify = await measureNotify({ port: server.port, home, cookie: WsTerm.cookie, dir: join(dir, 'notify'), log })
    }
    if (only.has('web')) {
      log(`web: bundle sizes, then deep link /t/${SESSIONS.web}/0 in Chromium, cold and warm, on loopback and at a phone's round-trip time`)
      tmux.run('new-session', '-d', '-s', SESSIONS.web, ...size)
      const target = `=${SESSIONS.web}:0`
      results.web = await measureWeb(server.port, WsTerm.cookie, SESSIONS.web, {
        type: (line) => void tmux.run('send-keys', '-t', target, line, 'Enter'),
        capture: () => tmux.run('capture-pane', '-p', '-t', target),
      })
    }

    results.load.end = loadavg()
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
