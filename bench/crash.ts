// Crash test of Handoff's state files: a process writing them as the server
// and the CLI do (bench/crash-writer.ts: pairing and `devices edit`, push
// subscriptions, events, audit lines) is killed with SIGKILL at a random
// moment, again and again; after each kill every file must parse and hold a
// whole content the writer wrote (never a mix), the logs only whole lines with
// ids in order, and the server must start on what is left.
// `npm run build && node dist/bench/crash.js [--rounds 200]` (docs/security.md).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { readSubscriptions } from '../server/events/push/subscriptions.js'
import { parseEventLine } from '../server/events/index.js'
import { startServer } from '../server/index.js'
import { readAudit, readDevices, readStateFile } from '../server/store/index.js'
import { CRASH_DEVICES, CRASH_SUBSCRIPTIONS } from './crash-states.js'
import { builtBenchScript } from './harness.js'

export interface CrashReport {
  rounds: number
  /** Kills that landed while the writer was inside one of its writes' steps (it had started). */
  killsAfterStart: number
  /** Files found torn, mixed or unreadable after a kill: each a description. */
  problems: string[]
  /** Times the server failed to start on the files a kill left. */
  serverStartFailures: number
  events: number
  seconds: number
}

const WRITER = builtBenchScript('crash-writer.js')

/** Runs the writer and kills it with SIGKILL after `delayMs` of writing. */
async function killWriterAfter(home: string, delayMs: number): Promise<boolean> {
  const child = spawn(process.execPath, [WRITER, home], { stdio: ['ignore', 'pipe', 'inherit'] })
  const started = await new Promise<boolean>((resolve) => {
    child.stdout.once('data', () => resolve(true))
    child.once('exit', () => resolve(false))
  })
  if (started) await new Promise((r) => setTimeout(r, delayMs))
  child.kill('SIGKILL')
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)))
  return started
}

/** What is wrong with the state files now; empty when each is whole. */
async function checkFiles(home: string): Promise<{ problems: string[]; events: number }> {
  const problems: string[] = []
  const devices = await readDevices(home).catch((err: unknown) => (problems.push(`devices.json: ${String(err)}`), undefined))
  if (devices && devices.length > 0 && !CRASH_DEVICES.some((d) => isDeepStrictEqual(d, devices))) problems.push('devices.json: neither the old nor the new content')
  const subs = await readSubscriptions(home).catch((err: unknown) => (problems.push(`push.json: ${String(err)}`), undefined))
  // The server starting after a kill prunes the subscriptions of devices that devices.json no longer has, so
  // a whole push.json is one of the two contents or part of one (never entries of both, never a torn one).
  const partOf = (state: readonly unknown[]) => subs?.every((entry) => state.some((known) => isDeepStrictEqual(known, entry)))
  if (subs && subs.length > 0 && !CRASH_SUBSCRIPTIONS.some(partOf)) problems.push('push.json: neither the old nor the new content')
  const lines = ((await readStateFile(join(home, 'events.jsonl'))) ?? '').split('\n').filter((l) => l !== '')
  let last = 0
  for (const line of lines) {
    const parsed = parseEventLine(line)
    if (!parsed.ok) problems.push(`events.jsonl: a torn line ${JSON.stringify(line.slice(0, 60))}`)
    else if (parsed.event.id <= last) problems.push(`events.jsonl: id ${parsed.event.id} after ${last}`)
    else last = parsed.event.id
  }
  const seq = Number(((await readStateFile(join(home, 'events.seq'))) ?? '0').trim())
  if (seq < last) problems.push(`events.seq ${seq} is behind the last id ${last}`)
  const audit = await readAudit(home, {}).catch((err: unknown) => (problems.push(`audit.jsonl: ${String(err)}`), undefined))
  if (audit && audit.skipped > 0) problems.push(`audit.jsonl: ${audit.skipped} torn line(s)`)
  return { problems, events: lines.length }
}

/** `rounds` kills at random moments (up to `maxDelayMs` into the writing), each followed by the checks and a server start. */
export async function runCrashRounds(rounds: number, options: { maxDelayMs?: number; log?: (line: string) => void } = {}): Promise<CrashReport> {
  const maxDelayMs = options.maxDelayMs ?? 80
  const home = mkdtempSync(join(tmpdir(), 'handoff-crash-'))
  const t0 = performance.now()
  const report: CrashReport = { rounds, killsAfterStart: 0, problems: [], serverStartFailures: 0, events: 0, seconds: 0 }
  try {
    for (let round = 1; round <= rounds; round++) {
      if (await killWriterAfter(home, Math.random() * maxDelayMs)) report.killsAfterStart++
      const { problems, events } = await checkFiles(home)
      report.events = events
      for (const p of problems) report.problems.push(`round ${round}: ${p}`)
      try {
        // A tmux socket no server listens on: the server starts without tmux, as on a machine where it is not running.
        const server = await startServer({ port: 0, tmuxSocket: `handoff-crash-${process.pid}`, home, log: () => {} })
        await server.close()
      } catch (err) {
        report.serverStartFailures++
        report.problems.push(`round ${round}: the server did not start: ${err instanceof Error ? err.message : String(err)}`)
      }
      if (round % 25 === 0) options.log?.(`crash: ${round}/${rounds} rounds, ${report.problems.length} problem(s)`)
    }
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
  report.seconds = (performance.now() - t0) / 1000
  return report
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--rounds')
  const rounds = i === -1 ? 200 : Number(process.argv[i + 1])
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100_000) {
    process.stderr.write(`--rounds must be a whole number 1-100000, got ${JSON.stringify(process.argv[i + 1])}\n`)
    process.exit(2)
  }
  const report = await runCrashRounds(rounds, { log: (line) => process.stderr.write(`${line}\n`) })
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  process.exit(report.problems.length === 0 ? 0 : 1)
}
