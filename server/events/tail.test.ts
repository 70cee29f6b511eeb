import { appendFileSync, mkdirSync, mkdtempSync, openSync, closeSync, renameSync, rmSync, truncateSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { appendEvent, eventsPath, rotatedEventsPath } from './log.js'
import { EVENT_LIMITS, type HandoffEvent } from './schema.js'
import { followEvents, type Follower, type SkipReason } from './tail.js'

let home: string
let follower: Follower | undefined
let got: HandoffEvent[]
let skips: SkipReason[]
let logs: string[]

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'handoff-tail-'))
  got = []
  skips = []
  logs = []
})
afterEach(async () => {
  await follower?.stop()
  follower = undefined
  rmSync(home, { recursive: true, force: true })
})

const line = (id: number, message = `m${id}`) => `${JSON.stringify({ id, ts: new Date().toISOString(), type: 'custom', message })}\n`
const write = (text: string, path = eventsPath(home)) => appendFileSync(path, text)
const follow = async () => {
  follower = followEvents(home, { onEvent: (e) => got.push(e), onSkip: (r) => skips.push(r), log: (l) => logs.push(l), pollMs: 50 })
  await follower.ready
  return follower
}
const gotIds = () => got.map((e) => e.id)
const until = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 20 })

describe('followEvents', () => {
  it('reads events.1.jsonl then events.jsonl on start, then follows new lines', async () => {
    write(line(1) + line(2), rotatedEventsPath(home))
    write(line(3))
    await follow()
    expect(gotIds()).toEqual([1, 2, 3])
    await appendEvent(home, { type: 'stop', message: 'live' })
    await until(() => expect(gotIds()).toEqual([1, 2, 3, 4]))
  })

  it('starts before the file exists', async () => {
    await follow()
    write(line(1))
    await until(() => expect(gotIds()).toEqual([1]))
  })

  it('waits for the newline of a line still being written', async () => {
    await follow()
    const text = line(7)
    write(text.slice(0, 20))
    await new Promise((r) => setTimeout(r, 200))
    expect(got).toEqual([])
    write(text.slice(20))
    await until(() => expect(gotIds()).toEqual([7]))
    expect(skips).toEqual([])
  })

  it('skips and counts malformed and invalid lines, and carries on', async () => {
    await follow()
    write('not json at all\n{"id":1,"ts"\n{"ts":"2026-01-02T03:04:05Z","type":"stop","message":"no id"}\n\n' + line(2))
    await until(() => expect(gotIds()).toEqual([2]))
    expect(follower!.skipped).toMatchObject({ malformed: 2, invalid: 1, oversized: 0 })
  })

  it('skips a 10 MB line without holding it, and delivers the next', async () => {
    await follow()
    const fd = openSync(eventsPath(home), 'a')
    const chunk = Buffer.alloc(1024 * 1024, 'x')
    writeSync(fd, '{"id":1,"ts":"2026-01-02T03:04:05Z","type":"custom","message":"')
    for (let i = 0; i < 10; i++) writeSync(fd, chunk)
    writeSync(fd, '"}\n')
    closeSync(fd)
    write(line(2))
    await until(() => expect(gotIds()).toEqual([2]))
    expect(follower!.skipped.oversized).toBe(1)
  })

  it('takes a line exactly at the cap and skips one byte over', async () => {
    await follow()
    // A valid event padded with JSON whitespace to exactly `bytes` before its newline.
    const exact = (id: number, bytes: number) => {
      const base = JSON.stringify({ id, ts: '2026-01-02T03:04:05.000Z', type: 'custom', message: 'm' })
      return `${base.slice(0, -1)}${' '.repeat(bytes - base.length)}}\n`
    }
    const atCap = exact(1, EVENT_LIMITS.lineBytes)
    expect(Buffer.byteLength(atCap) - 1).toBe(EVENT_LIMITS.lineBytes)
    write(atCap)
    write(exact(2, EVENT_LIMITS.lineBytes + 1))
    write(line(3))
    await until(() => expect(gotIds()).toEqual([1, 3]))
    expect(follower!.skipped.oversized).toBe(1)
  })

  it('reads again from the start after truncation', async () => {
    write(line(1) + line(2) + line(3))
    await follow()
    truncateSync(eventsPath(home), 0)
    write(line(4))
    await until(() => expect(gotIds()).toEqual([1, 2, 3, 4]))
    expect(logs.some((l) => l.includes('truncated'))).toBe(true)
  })

  it('finishes the rotated file before the new one', async () => {
    write(line(1))
    const f = await follow()
    await until(() => expect(gotIds()).toEqual([1]))
    // In one synchronous step: the follower next finds the file renamed, with lines 2 and 3 still unread in it.
    write(line(2) + line(3))
    renameSync(eventsPath(home), rotatedEventsPath(home))
    write(line(4))
    await until(() => expect(gotIds()).toEqual([1, 2, 3, 4]))
    expect(f.skipped).toMatchObject({ malformed: 0, invalid: 0, oversized: 0, partial: 0 })
  })

  it('follows appendEvent across many rotations without losing a line', async () => {
    await follow()
    for (let i = 0; i < 60; i++) await appendEvent(home, { type: 'custom', message: 'y'.repeat(200) }, { maxBytes: 1024 })
    await until(() => expect(gotIds()).toEqual(Array.from({ length: 60 }, (_, i) => i + 1)))
  })

  it('delivers ids written out of order, each line once', async () => {
    await follow()
    write(line(5) + line(3) + line(4))
    await until(() => expect(gotIds()).toEqual([5, 3, 4]))
  })

  it('survives the home folder appearing late', async () => {
    rmSync(home, { recursive: true })
    await follow()
    mkdirSync(home)
    write(line(1))
    await until(() => expect(gotIds()).toEqual([1]))
  })
})

describe('followEvents under any writes (property)', () => {
  it('delivers exactly the good lines, in order, however the bytes are split', async () => {
    const fc = (await import('fast-check')).default
    const { hostileString } = await import('../../tests/support/arbitraries.js')
    const garbage = hostileString(60).map((s) => s.replace(/\n/g, ' '))
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant('event') }, { weight: 1, arbitrary: garbage }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
        async (kinds, cuts) => {
          rmSync(eventsPath(home), { force: true })
          got = []
          let id = 0
          const expected: number[] = []
          const text = kinds
            .map((kind) => {
              if (kind !== 'event') return `${kind}\n`
              expected.push(++id)
              return line(id, `m${id} ✳`)
            })
            .join('')
          await follow()
          // Written in pieces of the drawn sizes: lines arrive split anywhere, a multi-byte character too.
          const bytes = Buffer.from(text, 'utf8')
          let at = 0
          for (let i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length] ?? 1
            appendFileSync(eventsPath(home), bytes.subarray(at, at + size))
            at += size
          }
          await until(() => expect(gotIds()).toEqual(expected))
          await follower?.stop()
          follower = undefined
        },
      ),
      { numRuns: 15 },
    )
  })
})
