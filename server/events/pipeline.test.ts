import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { appendEvent, eventsPath, eventsStatePath } from './log.js'
import { PIPELINE_LIMITS, startEventPipeline, type EventPipeline } from './pipeline.js'
import type { HandoffEvent } from './schema.js'

let home: string
let logs: string[]
const running = new Set<EventPipeline>()

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'handoff-pipeline-'))
  logs = []
})
afterEach(async () => {
  for (const p of running) await p.stop()
  running.clear()
  rmSync(home, { recursive: true, force: true })
})

async function start(options: { now?: () => number; maxAgeMs?: number; ringSize?: number } = {}) {
  const p = await startEventPipeline(home, { log: (l) => logs.push(l), pollMs: 50, stateWriteMs: 20, ...options })
  running.add(p)
  return p
}
const collect = (p: EventPipeline, backlog = false) => {
  const got: HandoffEvent[] = []
  p.subscribe((e) => got.push(e), { backlog })
  return { got, ids: () => got.map((e) => e.id) }
}
const line = (id: number, ts = new Date().toISOString()) => `${JSON.stringify({ id, ts, type: 'custom', message: `m${id}` })}\n`
const until = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 20 })

describe('startEventPipeline', () => {
  it('dispatches each new event once to every subscriber, and lets them go', async () => {
    const p = await start()
    const a = collect(p)
    const b = { got: [] as HandoffEvent[], ids: () => b.got.map((e) => e.id) }
    const off = p.subscribe((e) => b.got.push(e))
    await appendEvent(home, { type: 'stop', message: 'one' })
    await until(() => expect(a.ids()).toEqual([1]))
    expect(b.ids()).toEqual([1])
    expect(p.lastId()).toBe(1)
    // The same line again (a rotation race, a copy) is not dispatched twice.
    appendFileSync(eventsPath(home), readFileSync(eventsPath(home), 'utf8'))
    await appendEvent(home, { type: 'stop', message: 'two' })
    await until(() => expect(a.ids()).toEqual([1, 2]))
    expect(b.ids()).toEqual([1, 2])
    off()
    await appendEvent(home, { type: 'stop', message: 'three' })
    await until(() => expect(a.ids()).toEqual([1, 2, 3]))
    expect(b.ids()).toEqual([1, 2])
  })

  it('dispatches ids that arrive out of order, none skipped', async () => {
    const p = await start()
    const a = collect(p)
    appendFileSync(eventsPath(home), line(2) + line(4))
    await until(() => expect(a.ids()).toEqual([2, 4]))
    appendFileSync(eventsPath(home), line(1) + line(3) + line(4))
    await until(() => expect(a.ids()).toEqual([2, 4, 1, 3]))
    expect(p.recent(0, 10).map((e) => e.id)).toEqual([1, 2, 3, 4])
  })

  it('dispatches a line another program appended by hand', async () => {
    const p = await start()
    const a = collect(p)
    appendFileSync(eventsPath(home), '{"id":1,"ts":"' + new Date().toISOString() + '","type":"custom","message":"build done","source":"make"}\n')
    await until(() => expect(a.got).toEqual([expect.objectContaining({ id: 1, message: 'build done', source: 'make' })]))
  })

  it('after a restart, dispatches nothing twice and hands over what came while it was down', async () => {
    const first = await start()
    const a = collect(first)
    for (let i = 0; i < 3; i++) await appendEvent(home, { type: 'stop', message: `before ${i}` })
    await until(() => expect(a.ids()).toEqual([1, 2, 3]))
    await first.stop()
    running.delete(first)
    expect(JSON.parse(readFileSync(eventsStatePath(home), 'utf8'))).toMatchObject({ low: 3, lastId: 3 })

    await appendEvent(home, { type: 'notify', message: 'while down' })
    const second = await start()
    const push = collect(second, true)
    const stream = collect(second)
    expect(push.ids()).toEqual([4])
    expect(stream.ids()).toEqual([]) // a stream replays with recent() instead
    expect(second.recent(0, 100).map((e) => e.id)).toEqual([1, 2, 3, 4])
    expect(second.lastId()).toBe(4)
    await appendEvent(home, { type: 'stop', message: 'live' })
    await until(() => expect(push.ids()).toEqual([4, 5]))
    // Only the first backlog subscriber gets the backlog.
    expect(collect(second, true).ids()).toEqual([])
  })

  it('hands over only events younger than maxAgeMs from the time it was down', async () => {
    const now = Date.UTC(2026, 0, 2, 12, 0, 0)
    const iso = (msAgo: number) => new Date(now - msAgo).toISOString()
    appendFileSync(eventsPath(home), line(1, iso(PIPELINE_LIMITS.maxAgeMs + 1)) + line(2, iso(PIPELINE_LIMITS.maxAgeMs)) + line(3, iso(1000)))
    const p = await start({ now: () => now })
    const push = collect(p, true)
    expect(push.ids()).toEqual([2, 3])
    expect(p.recent(0, 10).map((e) => e.id)).toEqual([1, 2, 3]) // old ones stay for replay
    // Live events are dispatched whatever their time says.
    appendFileSync(eventsPath(home), line(4, iso(60 * 60_000)))
    await until(() => expect(push.ids()).toEqual([2, 3, 4]))
  })

  it('keeps a bounded ring and answers recent() newest-first-limited, in id order', async () => {
    const p = await start({ ringSize: 5 })
    appendFileSync(eventsPath(home), Array.from({ length: 8 }, (_, i) => line(i + 1)).join(''))
    await until(() => expect(p.lastId()).toBe(8))
    expect(p.recent(0, 100).map((e) => e.id)).toEqual([4, 5, 6, 7, 8])
    expect(p.recent(5, 100).map((e) => e.id)).toEqual([6, 7, 8])
    expect(p.recent(0, 2).map((e) => e.id)).toEqual([7, 8])
    expect(p.recent(8, 100)).toEqual([])
    expect(p.recent(0, 0)).toEqual([])
  })

  it('starts over a damaged state file, saying so', async () => {
    writeFileSync(eventsStatePath(home), '{"version":1,')
    const p = await start()
    expect(logs.some((l) => l.includes('damaged'))).toBe(true)
    const a = collect(p)
    await appendEvent(home, { type: 'stop', message: 'fine' })
    await until(() => expect(a.ids()).toEqual([1]))
  })

  it('survives a subscriber that throws', async () => {
    const p = await start()
    p.subscribe(() => {
      throw new Error('boom')
    })
    const a = collect(p)
    await appendEvent(home, { type: 'stop', message: 'x' })
    await until(() => expect(a.ids()).toEqual([1]))
    expect(logs.some((l) => l.includes('boom'))).toBe(true)
  })
})
