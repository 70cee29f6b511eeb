import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isHandoffError } from '../errors.js'
import { appendEvent, EVENT_LOG_LIMITS, eventsLogMaxBytes, eventsPath, rotatedEventsPath } from './log.js'

let root: string
let home: string
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'handoff-events-'))
  home = join(root, 'home')
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '')
const ids = (path: string) => lines(path).map((l) => (JSON.parse(l) as { id: number }).id)

describe('appendEvent', () => {
  it('writes one compact line with the documented fields, 0600 in a 0700 home', async () => {
    const e = await appendEvent(home, { type: 'stop', message: 'build done', tmux_session: 'main', tmux_window: 2, ts: Date.UTC(2026, 0, 2) })
    expect(e).toEqual({ id: 1, ts: '2026-01-02T00:00:00.000Z', type: 'stop', message: 'build done', tmux_session: 'main', tmux_window: 2 })
    expect(readFileSync(eventsPath(home), 'utf8')).toBe(`${JSON.stringify(e)}\n`)
    expect(statSync(eventsPath(home)).mode & 0o777).toBe(0o600)
    expect(statSync(home).mode & 0o777).toBe(0o700)
  })

  it('refuses a bad type or window with BAD_REQUEST naming the field', async () => {
    await expect(appendEvent(home, { type: 'Nope', message: 'm' })).rejects.toSatisfy(
      (err) => isHandoffError(err, 'BAD_REQUEST') && (err as Error).message.includes('type'),
    )
    await expect(appendEvent(home, { type: 'ok', message: 'm', tmux_window: 1.5 })).rejects.toSatisfy((err) => isHandoffError(err, 'BAD_REQUEST'))
  })

  it('gives 50 concurrent writers 50 distinct, increasing ids and 50 intact lines', async () => {
    const events = await Promise.all(Array.from({ length: 50 }, (_, i) => appendEvent(home, { type: 'custom', message: `n${i}` })))
    expect(new Set(events.map((e) => e.id)).size).toBe(50)
    const written = ids(eventsPath(home))
    expect(written).toHaveLength(50)
    expect(written).toEqual([...written].sort((a, b) => a - b))
    expect(written.at(-1)).toBe(50)
  })

  it('starts on a fresh line after a half-written one', async () => {
    await appendEvent(home, { type: 'stop', message: 'one' })
    appendFileSync(eventsPath(home), '{"id":2,"ts":"2026-') // a writer that crashed mid-line
    await appendEvent(home, { type: 'stop', message: 'two' })
    const all = lines(eventsPath(home))
    expect(all).toHaveLength(3)
    expect(JSON.parse(all[2]!)).toMatchObject({ message: 'two' })
  })

  it('keeps ids increasing past ids other programs wrote, and after truncation', async () => {
    await appendEvent(home, { type: 'stop', message: 'one' })
    appendFileSync(eventsPath(home), '{"id":40,"ts":"2026-01-02T00:00:00Z","type":"custom","message":"by hand"}\n')
    expect((await appendEvent(home, { type: 'stop', message: 'next' })).id).toBe(41)
    truncateSync(eventsPath(home), 0)
    expect((await appendEvent(home, { type: 'stop', message: 'after' })).id).toBe(42)
  })

  it('rotates to events.1.jsonl before a line would pass the limit, keeping one old file', async () => {
    const maxBytes = 1024
    let previous: number[] = []
    for (let i = 0; i < 40; i++) {
      await appendEvent(home, { type: 'custom', message: 'x'.repeat(100) }, { maxBytes })
      expect(statSync(eventsPath(home)).size).toBeLessThanOrEqual(maxBytes)
      const now = ids(eventsPath(home))
      if (now.length < previous.length) expect(ids(rotatedEventsPath(home))).toEqual(previous)
      previous = now
    }
    expect(ids(rotatedEventsPath(home)).length).toBeGreaterThan(0)
    // Ids carry on across rotation.
    expect(ids(eventsPath(home)).at(-1)).toBe(40)
  })

  it('appends quickly', async () => {
    await appendEvent(home, { type: 'stop', message: 'warm up' })
    const start = performance.now()
    for (let i = 0; i < 10; i++) await appendEvent(home, { type: 'stop', message: `n${i}` })
    // Printed, not asserted: a shared CI machine must not fail on timing.
    process.stderr.write(`appendEvent: ${((performance.now() - start) / 10).toFixed(2)} ms per event\n`)
  })
})

describe('eventsLogMaxBytes', () => {
  it('defaults to 1 MiB and reads HANDOFF_EVENTS_LOG_MAX_BYTES', () => {
    expect(eventsLogMaxBytes({})).toBe(EVENT_LOG_LIMITS.defaultMaxBytes)
    expect(eventsLogMaxBytes({ HANDOFF_EVENTS_LOG_MAX_BYTES: '4096' })).toBe(4096)
    expect(eventsLogMaxBytes({ HANDOFF_EVENTS_LOG_MAX_BYTES: String(EVENT_LOG_LIMITS.minMaxBytes) })).toBe(EVENT_LOG_LIMITS.minMaxBytes)
  })

  it.each(['abc', '-1', '1.5', '1e6', String(EVENT_LOG_LIMITS.minMaxBytes - 1), String(EVENT_LOG_LIMITS.maxMaxBytes + 1)])(
    'refuses %j with BAD_CONFIG quoting it',
    (raw) => {
      let caught: unknown
      try {
        eventsLogMaxBytes({ HANDOFF_EVENTS_LOG_MAX_BYTES: raw })
      } catch (err) {
        caught = err
      }
      expect(isHandoffError(caught, 'BAD_CONFIG')).toBe(true)
      expect((caught as Error).message).toContain(JSON.stringify(raw))
    },
  )

  it('makes appendEvent refuse to write with a bad setting', async () => {
    const saved = process.env.HANDOFF_EVENTS_LOG_MAX_BYTES
    process.env.HANDOFF_EVENTS_LOG_MAX_BYTES = 'lots'
    try {
      await expect(appendEvent(home, { type: 'stop', message: 'm' })).rejects.toSatisfy((err) => isHandoffError(err, 'BAD_CONFIG'))
    } finally {
      if (saved === undefined) delete process.env.HANDOFF_EVENTS_LOG_MAX_BYTES
      else process.env.HANDOFF_EVENTS_LOG_MAX_BYTES = saved
    }
  })
})
