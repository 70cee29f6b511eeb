import * as v from 'valibot'
import { isHandoffError } from '../errors.js'
import { ensureHome, jsonStateFile } from '../store/index.js'
import { impossibleId } from './ids.js'
import { EVENTS_STATE_FILE } from './log.js'
import type { HandoffEvent } from './schema.js'
import { followEvents, type SkipReason } from './tail.js'

export const PIPELINE_LIMITS = {
  /** Events written while the server was down are dispatched only if younger than this (default of `maxAgeMs`). */
  maxAgeMs: 10 * 60_000,
  /** Recent events kept in memory for `?since=` replays. */
  ringSize: 1000,
  /**
   * Ids may arrive out of order (other programs append without the lock). An id
   * this far or further below the highest one seen counts as already handled.
   */
  reorderWindow: 1000,
  /** events.state.json is written at most this often; `stop()` writes it at once. */
  stateWriteMs: 250,
} as const

export interface PipelineOptions {
  log: (line: string) => void
  maxAgeMs?: number
  /** The clock, for the age limit; default Date.now. */
  now?: () => number
  pollMs?: number
  ringSize?: number
  stateWriteMs?: number
}

export type EventListener = (event: HandoffEvent) => void

/** The server's view of events.jsonl. */
export interface SubscribeOptions {
  /**
   * First hand this listener the events written while the server was down
   * that are younger than `maxAgeMs` now. Only the first such subscriber gets
   * them (the Web Push sender); a stream replays with `recent()` instead.
   */
  backlog?: boolean
}

export interface EventPipeline {
  /** Calls `listener` for each new event, once; returns the unsubscribe function. */
  subscribe(listener: EventListener, options?: SubscribeOptions): () => void
  /** The newest `limit` events with an id above `sinceId`, by id, from the in-memory ring. */
  recent(sinceId: number, limit: number): HandoffEvent[]
  /** The highest id seen (0 before any): what the stream's `ready` reports. */
  lastId(): number
  /** Lines skipped so far, by reason. */
  skipped(): Readonly<Record<SkipReason, number>>
  /** Stops following and writes the state; a second call is a no-op. */
  stop(): Promise<void>
}

/**
 * events.state.json: every id up to `low` is handled; `above` lists the
 * handled ids past it (only while an earlier one is missing); `lastId` is the
 * highest seen, which `appendEvent` also allocates past.
 */
const StateSchema = v.object({
  version: v.literal(1),
  low: v.pipe(v.number(), v.integer(), v.minValue(0)),
  above: v.array(v.pipe(v.number(), v.integer(), v.minValue(1))),
  lastId: v.pipe(v.number(), v.integer(), v.minValue(0)),
})

/** Which ids are handled: a low-water mark, and the handled ids above it. */
class HandledIds {
  private readonly above = new Set<number>()
  constructor(
    private low: number,
    above: readonly number[],
    private readonly window: number,
  ) {
    for (const id of above) if (id > low) this.above.add(id)
    this.advance()
  }

  has(id: number): boolean {
    return id <= this.low || this.above.has(id)
  }

  add(id: number): void {
    if (this.has(id)) return
    this.above.add(id)
    this.advance()
  }

  private advance(): void {
    let high = this.low
    for (const id of this.above) if (id > high) high = id
    // A missing id this far back is given up: a writer that crashed, or a line that was skipped.
    if (high - this.low > this.window) this.low = high - this.window
    while (this.above.has(this.low + 1)) this.above.delete(++this.low)
    for (const id of this.above) if (id <= this.low) this.above.delete(id)
  }

  toJSON(): { low: number; above: number[] } {
    return { low: this.low, above: [...this.above].sort((a, b) => a - b) }
  }
}

/** events.state.json: written by the server alone, so without the lock. */
const stateFile = jsonStateFile({
  name: EVENTS_STATE_FILE,
  schema: StateSchema,
  empty: { version: 1 as const, low: 0, above: [], lastId: 0 },
  kind: 'a version 1 events state file',
  fix: () => 'the server starts as if new.',
})

async function readState(home: string, log: (line: string) => void): Promise<v.InferOutput<typeof StateSchema> | undefined> {
  try {
    const state = await stateFile.read(home)
    // A wild id remembered here would make every later event look handled: the state is damaged then.
    if (!impossibleId(state.lastId, 0) && !impossibleId(state.low, 0)) return state
  } catch (err) {
    if (!isHandoffError(err, 'BAD_STATE')) throw err
  }
  // Losing the state only risks pushing the last maxAgeMs of events again: not worth refusing to start.
  log(`events: ${stateFile.path(home)} is damaged; starting as if new (events of the last minutes may be pushed again)`)
  return undefined
}

/**
 * Starts following HANDOFF_HOME/events.jsonl and resolves once the events
 * already there are read.
 *
 * Every event goes into a ring of the last `ringSize` for `recent()`. Each id
 * is dispatched to subscribers at most once, across restarts too: the handled
 * ids are kept in events.state.json (atomic, throttled; a crash may repeat the
 * last `stateWriteMs` of them). Events written while the server was down are
 * handed to `subscribe(fn, { backlog: true })` only if younger than `maxAgeMs`
 * (default 10 minutes, by their `ts`, at subscription time); older ones are
 * only kept for replay. Events that arrive live are dispatched whatever their `ts`.
 *
 * @example
 * const events = await startEventPipeline(home, { log })
 * const off = events.subscribe((e) => push(e))
 */
export async function startEventPipeline(home: string, options: PipelineOptions): Promise<EventPipeline> {
  const { log } = options
  const maxAgeMs = options.maxAgeMs ?? PIPELINE_LIMITS.maxAgeMs
  const now = options.now ?? Date.now
  const ringSize = options.ringSize ?? PIPELINE_LIMITS.ringSize
  const stateWriteMs = options.stateWriteMs ?? PIPELINE_LIMITS.stateWriteMs
  await ensureHome(home)
  const saved = await readState(home, log)
  const handled = new HandledIds(saved?.low ?? 0, saved?.above ?? [], PIPELINE_LIMITS.reorderWindow)
  let highest = saved?.lastId ?? 0

  const ring: HandoffEvent[] = [] // sorted by id
  const inRing = new Set<number>()
  const listeners = new Set<EventListener>()
  const backlog: HandoffEvent[] = [] // found on start, not dispatched before, young enough
  let catchingUp = true
  let stopped = false

  // State writes: at most one in flight and one per stateWriteMs; stop() flushes.
  let dirty = false
  let writing: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined
  const writeState = async (): Promise<void> => {
    dirty = false
    const state = { version: 1 as const, ...handled.toJSON(), lastId: highest }
    try {
      await stateFile.write(home, state)
    } catch (err) {
      log(`events: cannot write ${stateFile.path(home)} (${(err as NodeJS.ErrnoException).code ?? String(err)}); a restart may push recent events again`)
    }
  }
  const scheduleState = (): void => {
    dirty = true
    if (timer || stopped) return
    timer = setTimeout(() => {
      timer = undefined
      writing = (writing ?? Promise.resolve()).then(writeState)
    }, stateWriteMs)
    timer.unref()
  }

  const remember = (event: HandoffEvent): boolean => {
    if (inRing.has(event.id)) return false
    let i = ring.length
    while (i > 0 && ring[i - 1]!.id > event.id) i--
    ring.splice(i, 0, event)
    inRing.add(event.id)
    while (ring.length > ringSize) inRing.delete(ring.shift()!.id)
    return true
  }

  const onEvent = (event: HandoffEvent): void => {
    if (!remember(event)) return // the same line read twice (a rotation race)
    if (event.id > highest) highest = event.id
    if (handled.has(event.id)) return // dispatched before a restart, or given up on
    handled.add(event.id)
    scheduleState()
    if (catchingUp) {
      // Nobody has subscribed yet: keep it for subscribe({ backlog: true }), if young enough.
      if (isYoung(event)) backlog.push(event)
      while (backlog.length > ringSize) backlog.shift()
      return
    }
    for (const listener of listeners) deliver(listener, event)
  }
  const isYoung = (event: HandoffEvent): boolean => now() - Date.parse(event.ts) <= maxAgeMs
  const deliver = (listener: EventListener, event: HandoffEvent): void => {
    try {
      listener(event)
    } catch (err) {
      log(`events: a subscriber failed on event ${event.id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    }
  }

  const follower = followEvents(home, {
    onEvent,
    onSkip: (reason, detail) => log(`events: skipped a ${reason} line in events.jsonl (${detail})`),
    log,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  })
  await follower.ready
  catchingUp = false

  let stopping: Promise<void> | undefined
  return {
    subscribe(listener, subscribeOptions = {}) {
      if (subscribeOptions.backlog) for (const event of backlog.splice(0).filter(isYoung)) deliver(listener, event)
      const own = (e: HandoffEvent) => listener(e) // the same function twice subscribes twice
      listeners.add(own)
      return () => void listeners.delete(own)
    },
    recent(sinceId, limit) {
      if (limit <= 0) return []
      let i = ring.length
      while (i > 0 && ring[i - 1]!.id > sinceId) i--
      return ring.slice(Math.max(i, ring.length - limit))
    },
    lastId: () => highest,
    skipped: () => follower.skipped,
    stop: () =>
      (stopping ??= (async () => {
        stopped = true
        listeners.clear()
        backlog.length = 0
        await follower.stop()
        if (timer) clearTimeout(timer)
        timer = undefined
        await writing
        if (dirty) await writeState()
      })()),
  }
}
