import { watch, type FSWatcher } from 'node:fs'
import { stat, type FileHandle } from 'node:fs/promises'
import { openStateFile } from '../store/index.js'
import { impossibleId } from './ids.js'
import { EVENTS_FILE, ROTATED_EVENTS_FILE, eventsPath, rotatedEventsPath } from './log.js'
import { EVENT_LIMITS, parseEventLine, type HandoffEvent } from './schema.js'

export const TAIL_LIMITS = {
  /** The stat poll, the fallback when fs.watch says nothing (network folders, some containers). */
  pollMs: 250,
  /** One read from the file. */
  chunkBytes: 64 * 1024,
} as const

/**
 * Why a line was not delivered:
 * - `malformed`: not JSON (garbage, or the half line a crashed writer left).
 * - `invalid`: JSON, but not an event (no id, a bad type...); `detail` names the field.
 * - `oversized`: longer than EVENT_LIMITS.lineBytes; skipped unread.
 * - `partial`: a last line without its newline in a file that was then rotated away or truncated.
 * - `impossible`: an event whose id no writer could have given it (ids.ts); `handoff events repair` removes it.
 */
export type SkipReason = 'malformed' | 'invalid' | 'oversized' | 'partial' | 'impossible'

export interface FollowOptions {
  onEvent: (event: HandoffEvent) => void
  onSkip?: (reason: SkipReason, detail: string) => void
  log: (line: string) => void
  pollMs?: number
}

export interface Follower {
  /** Resolves once everything already in events.1.jsonl and events.jsonl has been delivered. */
  readonly ready: Promise<void>
  /** Lines skipped so far, by reason. */
  readonly skipped: Readonly<Record<SkipReason, number>>
  /** Stops watching and closes the file; a second call is a no-op. */
  stop(): Promise<void>
}

/** Splits bytes into lines, holding at most `lineBytes` of an unfinished one. */
class LineSplitter {
  private parts: Buffer[] = []
  private held = 0
  /** Inside a line longer than the cap: drop bytes until its newline. */
  private skipping = false

  constructor(
    private readonly lineBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOversized: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, start)
      if (nl === -1) break
      if (this.skipping) this.skipping = false
      else if (this.held + (nl - start) > this.lineBytes) this.onOversized()
      else this.onLine(this.parts.length === 0 ? chunk.subarray(start, nl) : Buffer.concat([...this.parts, chunk.subarray(start, nl)]))
      this.parts = []
      this.held = 0
      start = nl + 1
    }
    if (start >= chunk.length || this.skipping) return
    const rest = chunk.subarray(start)
    if (this.held + rest.length > this.lineBytes) {
      // Past the cap: count it now and forget what was held, so a 10 MB line never sits in memory.
      this.parts = []
      this.held = 0
      this.skipping = true
      this.onOversized()
      return
    }
    this.parts.push(Buffer.from(rest)) // a copy: the read buffer is reused
    this.held += rest.length
  }

  /** Drops an unfinished line (its file is gone); true if there was one. */
  reset(): boolean {
    const had = this.held > 0
    this.parts = []
    this.held = 0
    this.skipping = false
    return had
  }
}

/**
 * Follows HANDOFF_HOME/events.jsonl from its start (after the rest of
 * events.1.jsonl), delivering each complete, valid line once as it appears.
 *
 * fs.watch on the home folder wakes it at once; a stat poll every `pollMs`
 * covers the rest. It survives truncation (reads again from the start),
 * rotation (finishes the renamed file through its open handle, then opens the
 * new one), partial lines (held until their newline), malformed or invalid
 * lines (skipped and counted) and oversized lines (skipped without being held).
 * Never throws after start: read errors are logged and retried on the next poll.
 * Ids are checked only for being possible (ids.ts), so one wild id cannot
 * poison the sequence; the pipeline drops repeats.
 */
export function followEvents(home: string, options: FollowOptions): Follower {
  const pollMs = options.pollMs ?? TAIL_LIMITS.pollMs
  const path = eventsPath(home)
  const skipped: Record<SkipReason, number> = { malformed: 0, invalid: 0, oversized: 0, partial: 0, impossible: 0 }
  /** The highest id delivered so far, for telling an impossible one. */
  let highest = 0
  const skip = (reason: SkipReason, detail: string) => {
    skipped[reason]++
    try {
      options.onSkip?.(reason, detail)
    } catch (err) {
      options.log(`events: onSkip failed: ${String(err)}`)
    }
  }
  const onLine = (bytes: Buffer) => {
    const line = bytes.toString('utf8').trim()
    if (line === '') return
    const parsed = parseEventLine(line)
    if (!parsed.ok) return skip(parsed.reason, parsed.detail)
    const impossible = impossibleId(parsed.event.id, highest)
    if (impossible) return skip('impossible', `${impossible}; remove it with: handoff events repair`)
    if (parsed.event.id > highest) highest = parsed.event.id
    try {
      options.onEvent(parsed.event)
    } catch (err) {
      options.log(`events: a listener failed on event ${parsed.event.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    }
  }
  const splitter = new LineSplitter(EVENT_LIMITS.lineBytes, onLine, () => skip('oversized', `a line longer than ${EVENT_LIMITS.lineBytes} bytes`))
  const buffer = Buffer.alloc(TAIL_LIMITS.chunkBytes)

  let file: FileHandle | undefined
  let ino: bigint | undefined
  let pos = 0
  let stopped = false

  /** Reads `handle` from `from` to its current end; returns the new position. */
  async function drain(handle: FileHandle, from: number): Promise<number> {
    let at = from
    for (;;) {
      if (stopped) return at
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at)
      if (bytesRead === 0) return at
      at += bytesRead
      splitter.push(buffer.subarray(0, bytesRead))
    }
  }

  const lostPartial = (what: string) => {
    if (splitter.reset()) skip('partial', `an unfinished last line in ${what}`)
  }

  async function openCurrent(): Promise<void> {
    try {
      file = await openStateFile(path, 'read')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // no event yet: the poll looks again
      throw err
    }
    ino = (await file.stat({ bigint: true })).ino
    pos = 0
  }

  async function closeCurrent(): Promise<void> {
    const f = file
    file = undefined
    ino = undefined
    await f?.close().catch(() => {})
  }

  async function check(): Promise<void> {
    if (!file) await openCurrent()
    if (!file) return
    const size = (await file.stat()).size
    if (size < pos) {
      options.log(`events: ${EVENTS_FILE} was truncated; reading it again from the start`)
      lostPartial(EVENTS_FILE)
      pos = 0
    }
    pos = await drain(file, pos)
    // Renamed away (rotation) or replaced: what the old file held is read; move to the new one.
    const now = await stat(path, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    if (now?.ino === ino) return
    pos = await drain(file, pos) // lines written just before the rename
    lostPartial(ROTATED_EVENTS_FILE)
    await closeCurrent()
    if (now) {
      await openCurrent()
      if (file) pos = await drain(file, 0)
    }
  }

  async function start(): Promise<void> {
    // Open the current file first: if it is rotated meanwhile, events.1.jsonl is then the file we hold.
    await openCurrent()
    let rotated: FileHandle | undefined
    try {
      rotated = await openStateFile(rotatedEventsPath(home), 'read')
      if ((await rotated.stat({ bigint: true })).ino !== ino) {
        await drain(rotated, 0)
        lostPartial(ROTATED_EVENTS_FILE)
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    } finally {
      await rotated?.close()
    }
    await check()
  }

  // One check at a time; a wake-up during a check runs one more after it.
  let running: Promise<void> | undefined
  let again = false
  const wake = (): void => {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    running = (async () => {
      do {
        again = false
        try {
          await check()
        } catch (err) {
          options.log(`events: reading ${path} failed (${(err as NodeJS.ErrnoException).code ?? String(err)}); retrying`)
          await closeCurrent()
        }
      } while (again && !stopped)
    })().finally(() => {
      running = undefined
    })
  }

  const ready = start().catch((err: unknown) => {
    options.log(`events: reading ${path} failed (${(err as NodeJS.ErrnoException).code ?? String(err)}); retrying`)
  })

  // Wake-ups start once the first read is done, so two reads never overlap.
  let timer: NodeJS.Timeout | undefined
  let watcher: FSWatcher | undefined
  void ready.then(() => {
    if (stopped) return
    timer = setInterval(wake, pollMs)
    timer.unref()
    try {
      watcher = watch(home, { persistent: false }, (_event, filename) => {
        if (filename === null || filename === EVENTS_FILE || filename === ROTATED_EVENTS_FILE) wake()
      })
      watcher.on('error', () => watcher?.close()) // the poll carries on alone
    } catch {
      // No fs.watch here: the poll alone notices changes.
    }
    wake() // anything written between the first read and the watcher
  })

  let stopping: Promise<void> | undefined
  return {
    ready,
    skipped,
    stop: () =>
      (stopping ??= (async () => {
        stopped = true
        clearInterval(timer)
        watcher?.close()
        await ready
        await running
        await closeCurrent()
      })()),
  }
}
