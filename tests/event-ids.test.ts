import { execFile } from 'node:child_process'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { appendEvent, EVENT_ID_LIMITS, type HandoffEvent } from '../server/events/index.js'
import { HandoffError } from '../server/errors.js'
import { startHarness, type Harness } from './support/server.js'
import { SseStream } from './support/sse.js'

// One line with a wild id (2^53−1, or a leap far ahead) must not silence
// notifications: writers do not continue from it, the server skips and
// reports it (also after a restart), status says so, and a command repairs it.

const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))
const POISON = (id: number) => `${JSON.stringify({ id, ts: new Date().toISOString(), type: 'stop', message: 'wild' })}\n`

let h: Harness
beforeEach(async () => {
  h = await startHarness()
})
afterEach(async () => {
  await h.stop()
})

function handoff(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HANDOFF_HOME: h.home, HANDOFF_PORT: '1' }
  delete env.TMUX
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 20_000 }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout })
    })
  })
}

const streamIds = (s: SseStream) => s.data<HandoffEvent>('message').map((e) => e.message)

describe('event ids', () => {
  it('keep going after a line with id 2^53−1 or a leap, live and after a restart', async () => {
    const stream = new SseStream(h.server.port, h.device.cookie)
    await vi.waitFor(() => expect(stream.data('ready')).toHaveLength(1))
    expect((await appendEvent(h.home, { type: 'stop', message: 'one' })).id).toBe(1)
    appendFileSync(join(h.home, 'events.jsonl'), POISON(Number.MAX_SAFE_INTEGER))
    appendFileSync(join(h.home, 'events.jsonl'), POISON(1 + EVENT_ID_LIMITS.maxLeap + 5))
    expect((await appendEvent(h.home, { type: 'stop', message: 'two' })).id).toBe(2)
    await vi.waitFor(() => expect(streamIds(stream)).toEqual(['one', 'two']), { timeout: 10_000 })
    stream.close()

    // The server's record of handled ids was not poisoned either.
    await h.server.close()
    const { startServer } = await import('../server/index.js')
    const again = await startServer({ port: h.server.port, tmuxSocket: h.tmux.socket, home: h.home, log: () => {} })
    try {
      const after = new SseStream(again.port, h.device.cookie)
      await vi.waitFor(() => expect(after.data('ready')).toHaveLength(1))
      expect((await appendEvent(h.home, { type: 'stop', message: 'three' })).id).toBe(3)
      await vi.waitFor(() => expect(streamIds(after)).toEqual(['three']), { timeout: 10_000 })
      after.close()
    } finally {
      await again.close()
    }
  })

  it('refuses to write an id past the bound, with the fix', async () => {
    writeFileSync(join(h.home, 'events.seq'), `${EVENT_ID_LIMITS.max}\n`)
    const err = (await appendEvent(h.home, { type: 'stop', message: 'x' }).catch((e: unknown) => e)) as HandoffError
    expect(err.code).toBe('BAD_STATE')
    expect(err.message).toContain('handoff events repair')
  })

  it('shows in handoff status and is repaired by handoff events repair, keeping what it took out', async () => {
    // No server: it would rewrite its own record (events.state.json) meanwhile.
    await h.server.close()
    await appendEvent(h.home, { type: 'stop', message: 'kept' })
    appendFileSync(join(h.home, 'events.jsonl'), POISON(Number.MAX_SAFE_INTEGER))
    writeFileSync(join(h.home, 'events.state.json'), JSON.stringify({ version: 1, low: Number.MAX_SAFE_INTEGER, above: [], lastId: Number.MAX_SAFE_INTEGER }))
    const sick = await handoff(['status', '--json'])
    expect(sick.code).toBe(1)
    const health = (JSON.parse(sick.stdout) as { events: { ok: boolean; problems?: string[] } }).events
    expect(health.ok).toBe(false)
    expect(health.problems?.join(' ')).toContain('past the largest event id')

    const repaired = await handoff(['events', 'repair', '--json'])
    expect(repaired.code).toBe(0)
    expect(JSON.parse(repaired.stdout)).toMatchObject({ removedLines: 1, stateReset: true })
    expect(readFileSync(join(h.home, 'events.removed.jsonl'), 'utf8')).toContain(String(Number.MAX_SAFE_INTEGER))
    expect(readFileSync(join(h.home, 'events.jsonl'), 'utf8')).toContain('"kept"')
    expect(readFileSync(join(h.home, 'events.jsonl'), 'utf8')).not.toContain(String(Number.MAX_SAFE_INTEGER))
    const well = await handoff(['status', '--json'])
    expect((JSON.parse(well.stdout) as { events: { ok: boolean } }).events.ok).toBe(true)
    expect((await appendEvent(h.home, { type: 'stop', message: 'next' })).id).toBe(2)
  })
})
