import { join } from 'node:path'
import * as v from 'valibot'
import { HandoffError } from '../errors.js'
import { appendStateFile, ensureHome, openStateFile, readStateFile, rotateLines, withFileLock, writeFileAtomic } from '../store/index.js'
import { EVENT_ID_LIMITS, impossibleId } from './ids.js'
import { EventInputSchema, parseEventLine, serializeEvent, type EventInput, type HandoffEvent } from './schema.js'

export const EVENTS_FILE = 'events.jsonl'
export const ROTATED_EVENTS_FILE = 'events.1.jsonl'
/** The last id handed out, one decimal number: ids keep increasing across rotation and truncation. */
export const EVENTS_SEQ_FILE = 'events.seq'
/** The pipeline's record of what it has dispatched (server/events/pipeline.ts). */
export const EVENTS_STATE_FILE = 'events.state.json'

export const eventsPath = (home: string): string => join(home, EVENTS_FILE)
export const rotatedEventsPath = (home: string): string => join(home, ROTATED_EVENTS_FILE)
export const eventsSeqPath = (home: string): string => join(home, EVENTS_SEQ_FILE)
export const eventsStatePath = (home: string): string => join(home, EVENTS_STATE_FILE)

export const EVENT_LOG_LIMITS = {
  /** events.jsonl is rotated to events.1.jsonl before a line would take it past this (HANDOFF_EVENTS_LOG_MAX_BYTES). */
  defaultMaxBytes: 1024 * 1024,
  minMaxBytes: 1024,
  maxMaxBytes: 1024 * 1024 * 1024,
  /** How much of the end of events.jsonl the writer reads for ids written by other programs. */
  tailScanBytes: 16 * 1024,
  /** How long a writer waits for others before giving up with STATE_LOCKED: 50 writers at once on a loaded machine take seconds. */
  lockTimeoutMs: 30_000,
} as const

/**
 * HANDOFF_EVENTS_LOG_MAX_BYTES, or the 1 MiB default. BAD_CONFIG quoting the
 * value when it is not a whole number of bytes in range.
 */
export function eventsLogMaxBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HANDOFF_EVENTS_LOG_MAX_BYTES
  if (raw === undefined || raw === '') return EVENT_LOG_LIMITS.defaultMaxBytes
  const n = Number(raw)
  if (/^\d+$/.test(raw.trim()) && n >= EVENT_LOG_LIMITS.minMaxBytes && n <= EVENT_LOG_LIMITS.maxMaxBytes) return n
  throw new HandoffError(
    'BAD_CONFIG',
    400,
    `HANDOFF_EVENTS_LOG_MAX_BYTES must be a number of bytes from ${EVENT_LOG_LIMITS.minMaxBytes} to ${EVENT_LOG_LIMITS.maxMaxBytes}, got ${JSON.stringify(raw)}; unset it for the default (1048576)`,
  )
}

export interface AppendOptions {
  /** Rotation size; default from HANDOFF_EVENTS_LOG_MAX_BYTES. */
  maxBytes?: number
}

/**
 * Appends one event to HANDOFF_HOME/events.jsonl and returns it.
 *
 * Under the file's lock: allocates the next id (past events.seq, the ids at
 * the end of the file and the pipeline's last dispatched id, so ids strictly
 * increase even after rotation or truncation), rotates to events.1.jsonl when
 * the line would pass `maxBytes`, and appends ONE compact JSON line with a
 * single O_APPEND write, starting with "\n" if the file does not end in one
 * (a crashed writer's half line then stays a line of its own). Files are
 * 0600 in the 0700 home. Throws BAD_REQUEST naming the bad field, BAD_CONFIG
 * for a bad HANDOFF_EVENTS_LOG_MAX_BYTES, STATE_LOCKED if the lock stays busy.
 *
 * @example await appendEvent(home, { type: 'stop', message: 'build done' })
 */
export async function appendEvent(home: string, input: EventInput, options: AppendOptions = {}): Promise<HandoffEvent> {
  const parsed = v.safeParse(EventInputSchema, input)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const path = v.getDotPath(issue)
    throw new HandoffError('BAD_REQUEST', 400, `bad event: ${path ?? ''} ${issue.message}, got ${JSON.stringify(issue.input)}`)
  }
  const maxBytes = options.maxBytes ?? eventsLogMaxBytes()
  const { ts, ...fields } = parsed.output
  const time = new Date(ts ?? Date.now()).toISOString()
  await ensureHome(home)
  const path = eventsPath(home)
  return withFileLock(
    path,
    async () => {
      const tail = await readTail(path)
      const id = nextId(await readSeq(home), tail.maxId, await readDispatchedId(home))
      if (id > EVENT_ID_LIMITS.max) {
        throw new HandoffError('BAD_STATE', 500, `event ids have run out (the next would be ${id}); run: handoff events repair`)
      }
      // Key order is the documented one; absent fields stay absent.
      const event = Object.fromEntries(
        Object.entries({ id, ts: time, ...fields }).filter(([, value]) => value !== undefined),
      ) as unknown as HandoffEvent
      const body = Buffer.from(`${serializeEvent(event)}\n`, 'utf8')
      let prefix = tail.endsInNewline ? '' : '\n'
      if (tail.size > 0 && tail.size + prefix.length + body.length > maxBytes) {
        await rotateLines(path, 1, () => rotatedEventsPath(home))
        prefix = ''
      }
      // The id is spent before the line is written: a crash in between leaves a gap, never a reused id.
      await writeFileAtomic(eventsSeqPath(home), `${id}\n`)
      await appendOnce(path, prefix === '' ? body : Buffer.concat([Buffer.from(prefix), body]))
      return event
    },
    { timeoutMs: EVENT_LOG_LIMITS.lockTimeoutMs },
  )
}

async function appendOnce(path: string, bytes: Buffer): Promise<void> {
  try {
    await appendStateFile(path, bytes)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    throw new HandoffError('INTERNAL', 500, `short write to ${path} (is the disk full?)`, { cause: err })
  }
}

/**
 * The next event id: one more than the highest of our own sequence
 * (events.seq), the ids at the end of the file (another program may write it)
 * and the pipeline's last dispatched id, leaving out any of these that is
 * impossible (ids.ts): one wild line cannot use up the ids.
 */
export function nextId(seq: number, fileMax: number, dispatched: number): number {
  let highest = impossibleId(seq, 0) ? 0 : seq
  if (!impossibleId(fileMax, highest)) highest = Math.max(highest, fileMax)
  if (!impossibleId(dispatched, highest)) highest = Math.max(highest, dispatched)
  return highest + 1
}

/** The end of events.jsonl: its size, whether it ends a line, and the highest id among its last lines. */
async function readTail(path: string): Promise<{ size: number; endsInNewline: boolean; maxId: number }> {
  let file
  try {
    file = await openStateFile(path, 'read')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { size: 0, endsInNewline: true, maxId: 0 }
    throw err
  }
  try {
    const { size } = await file.stat()
    if (size === 0) return { size, endsInNewline: true, maxId: 0 }
    const length = Math.min(size, EVENT_LOG_LIMITS.tailScanBytes)
    const buf = Buffer.alloc(length)
    const { bytesRead } = await file.read(buf, 0, length, size - length)
    const text = buf.subarray(0, bytesRead).toString('utf8')
    let maxId = 0
    // The first piece may be the cut end of a longer line: only whole lines count.
    const lines = text.split('\n')
    for (const line of length < size ? lines.slice(1) : lines) {
      if (line.trim() === '') continue
      const parsed = parseEventLine(line)
      if (parsed.ok && parsed.event.id > maxId) maxId = parsed.event.id
    }
    return { size, endsInNewline: text.endsWith('\n'), maxId }
  } finally {
    await file.close()
  }
}

async function readNumber(path: string, pick: (text: string) => unknown): Promise<number> {
  const text = await readStateFile(path)
  if (text === undefined) return 0
  try {
    const n = pick(text)
    return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : 0
  } catch {
    return 0 // a damaged file: the other sources still keep ids increasing
  }
}

export const readSeq = (home: string): Promise<number> => readNumber(eventsSeqPath(home), (text) => Number(text.trim()))
export const readDispatchedId = (home: string): Promise<number> =>
  readNumber(eventsStatePath(home), (text) => (JSON.parse(text) as { lastId?: unknown }).lastId)
