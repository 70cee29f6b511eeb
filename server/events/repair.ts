import { join } from 'node:path'
import { HandoffError } from '../errors.js'
import { appendStateFile, readStateFile, withFileLock, writeFileAtomic } from '../store/index.js'
import { EVENT_ID_LIMITS, impossibleId } from './ids.js'
import { EVENT_LOG_LIMITS, eventsPath, eventsSeqPath, eventsStatePath, readDispatchedId, readSeq, rotatedEventsPath } from './log.js'
import { parseEventLine } from './schema.js'

/** Where `handoff events repair` keeps the lines it took out: nothing is thrown away. */
export const REMOVED_EVENTS_FILE = 'events.removed.jsonl'

export type EventsHealth = { ok: true } | { ok: false; problems: string[] }

export interface EventsRepair {
  /** Lines with impossible ids taken out of the event files, kept in events.removed.jsonl. */
  removedLines: number
  /** events.seq before and after. */
  seq: { before: number; after: number }
  /** Whether the pipeline's record (events.state.json) held an impossible id and was reset to the files'. */
  stateReset: boolean
}

/** The event files, oldest first, as lines (a missing file: none). */
async function readEventFiles(home: string): Promise<{ path: string; lines: string[] }[]> {
  const files = []
  for (const path of [rotatedEventsPath(home), eventsPath(home)]) {
    const text = await readStateFile(path)
    files.push({ path, lines: text === undefined ? [] : text.split('\n') })
  }
  return files
}

/** Goes through the event lines in order as a reader would; calls `bad` for each impossible id, returns the highest possible one. */
function walk(files: { lines: string[] }[], bad: (line: string, why: string) => void): number {
  let highest = 0
  for (const { lines } of files) {
    for (const line of lines) {
      const parsed = line.trim() === '' ? null : parseEventLine(line.trim())
      if (!parsed?.ok) continue
      const why = impossibleId(parsed.event.id, highest)
      if (why) bad(line, why)
      else highest = Math.max(highest, parsed.event.id)
    }
  }
  return highest
}

async function stateIds(home: string): Promise<{ low: number; lastId: number } | undefined> {
  const text = await readStateFile(eventsStatePath(home))
  if (text === undefined) return undefined
  try {
    const state = JSON.parse(text) as { low?: unknown; lastId?: unknown }
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
    return { low: num(state.low), lastId: num(state.lastId) }
  } catch {
    return undefined // damaged: the server starts afresh from it anyway
  }
}

/**
 * Whether the event files hold an id that stops notifications (ids.ts):
 * for `handoff status`. Reads the files; changes nothing.
 */
export async function eventsHealth(home: string): Promise<EventsHealth> {
  const problems: string[] = []
  const files = await readEventFiles(home)
  walk(files, (_line, why) => problems.length < 3 && problems.push(`events.jsonl: a line whose ${why}`))
  const seq = await readSeq(home)
  const seqWhy = impossibleId(seq, 0)
  if (seqWhy) problems.push(`events.seq: ${seqWhy}`)
  const state = await stateIds(home)
  const stateWhy = state && (impossibleId(state.lastId, 0) ?? impossibleId(state.low, 0))
  if (stateWhy) problems.push(`events.state.json: ${stateWhy}`)
  return problems.length === 0 ? { ok: true } : { ok: false, problems }
}

/**
 * `handoff events repair`: under the event log's lock, takes every line with
 * an impossible id out of events.jsonl and events.1.jsonl (appending them to
 * events.removed.jsonl first, so nothing is lost), puts events.seq back to the
 * highest possible id, and resets a pipeline record that holds an impossible
 * id to it. Each file is rewritten atomically; files already right are left alone.
 */
export async function repairEvents(home: string): Promise<EventsRepair> {
  return withFileLock(
    eventsPath(home),
    async () => {
      const files = await readEventFiles(home)
      const removed: string[] = []
      const highest = walk(files, (line) => removed.push(line))
      if (removed.length > 0) {
        await appendStateFile(join(home, REMOVED_EVENTS_FILE), Buffer.from(`${removed.join('\n')}\n`, 'utf8'))
        const drop = new Set(removed)
        for (const { path, lines } of files) {
          if (!lines.some((l) => drop.has(l))) continue
          await writeFileAtomic(path, lines.filter((l) => !drop.has(l)).join('\n'))
        }
      }
      const before = await readSeq(home)
      const after = impossibleId(before, 0) || before > highest + EVENT_ID_LIMITS.maxLeap ? highest : Math.max(before, highest)
      if (after !== before) await writeFileAtomic(eventsSeqPath(home), `${after}\n`)
      const state = await stateIds(home)
      const stateReset = state !== undefined && (impossibleId(state.lastId, 0) !== null || impossibleId(state.low, 0) !== null)
      if (stateReset) {
        const lastId = Math.min(await readDispatchedId(home), highest) || highest
        await writeFileAtomic(eventsStatePath(home), `${JSON.stringify({ version: 1, low: lastId, above: [], lastId })}\n`)
      }
      return { removedLines: removed.length, seq: { before, after }, stateReset }
    },
    { timeoutMs: EVENT_LOG_LIMITS.lockTimeoutMs },
  ).catch((err: unknown) => {
    if (err instanceof HandoffError) throw err
    throw new HandoffError('BAD_STATE', 500, `could not repair the event files in ${home}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  })
}
