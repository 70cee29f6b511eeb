import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { authenticate } from '../server/auth/index.js'
import { HandoffError } from '../server/errors.js'
import type { RecentEventsJson } from '../protocol/index.js'
import { appendEvent, createEventRoutes, EVENT_STREAM_LIMITS, startEventPipeline, type EventPipeline, type HandoffEvent } from '../server/events/index.js'
import type { AppEnv } from '../server/http/app.js'
import { addSignedInDevice, changeDevice, type TestDevice } from './support/device.js'
import { request, startHarness, type Harness } from './support/server.js'
import { SseStream } from './support/sse.js'

/**
 * The event stream of a real Handoff server. Until the lead mounts the event
 * routes in server/http/app.ts, they are mounted here in a small app with the
 * same pieces (the sign-in cookie check, the gate's authorize, the audit log)
 * over the harness's HANDOFF_HOME; once mounted, the real server is used.
 */
interface Target {
  port: number
  origin: string
  stop(): Promise<void>
}

let harness: Harness
let target: Target

async function localTarget(home: string): Promise<Target> {
  let origin = ''
  const pipeline: EventPipeline = await startEventPipeline(home, { log: () => {}, pollMs: 100 })
  const app = new Hono<AppEnv>()
  app.use('/api/*', async function identify(c, next) {
    c.set('peer', { address: '127.0.0.1', node: null, user: null })
    c.set('device', await authenticate({ home, origin, secureCookie: false, now: Date.now }, c.req.header('cookie')))
    await next()
  })
  app.route('/', createEventRoutes({ pipeline, home, now: Date.now }))
  app.onError((err, c) =>
    err instanceof HandoffError ? c.json({ error: { code: err.code, message: err.message } }, err.status) : c.json({ error: { code: 'INTERNAL' } }, 500),
  )
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  const port = (server.address() as AddressInfo).port
  origin = `http://localhost:${port}`
  return {
    port,
    origin,
    async stop() {
      await pipeline.stop()
      const http = server as Server // serve() over plain HTTP
      http.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

beforeAll(async () => {
  harness = await startHarness()
  const probe = await request(harness.server.port, '/api/events')
  target =
    probe.status === 404
      ? await localTarget(harness.home)
      : { port: harness.server.port, origin: harness.origin, stop: async () => {} }
})
afterAll(async () => {
  await target?.stop()
  await harness?.stop()
})

/** The event stream as these tests read it: notify events, `ready`, and waiting for it. */
class Stream extends SseStream {
  constructor(device: TestDevice, query = '', headers: Record<string, string> = {}) {
    super(target.port, device.cookie, query, headers)
  }

  /** The events received (not `ready`), in order. */
  events(): HandoffEvent[] {
    return this.data<HandoffEvent>('message')
  }

  ids(): number[] {
    return this.events().map((e) => e.id)
  }

  ready(): { type: string; last_id: number } | undefined {
    return this.data<{ type: string; last_id: number }>('ready')[0]
  }

  async untilReady(): Promise<{ type: string; last_id: number }> {
    await until(() => expect(this.ready()).toBeDefined())
    return this.ready()!
  }
}

const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 25 })
const notify = (input: Parameters<typeof appendEvent>[1]) => appendEvent(harness.home, input)

describe('GET /api/events', () => {
  it('refuses a request without a sign-in (401) and a bad since (400)', async () => {
    const none = await request(target.port, '/api/events')
    expect(none.status).toBe(401)
    expect((none.json as { error: { code: string } }).error.code).toBe('NOT_SIGNED_IN')
    const device = await addSignedInDevice(harness.home, target.origin)
    for (const since of ['-1', 'abc', '1.5', '1e3', '99999999999999999999']) {
      const bad = await request(target.port, `/api/events?since=${encodeURIComponent(since)}`, { headers: { cookie: device.cookie } })
      expect(bad.status).toBe(400)
      expect((bad.json as { error: { code: string } }).error.code).toBe('BAD_REQUEST')
    }
  })

  it('sends ready with the last id, then live events with their id in the SSE id field', async () => {
    const device = await addSignedInDevice(harness.home, target.origin)
    const before = await notify({ type: 'stop', message: 'before' })
    const s = new Stream(device)
    const ready = await s.untilReady()
    expect(ready).toEqual({ type: 'ready', last_id: before.id })
    expect(s.ids()).toEqual([]) // no since: nothing replayed
    const started = performance.now()
    const e = await notify({ type: 'notify', message: 'Claude is waiting', tmux_session: 'main', tmux_window: 1 })
    await until(() => expect(s.ids()).toEqual([e.id]))
    process.stderr.write(`event reached the stream in ${(performance.now() - started).toFixed(0)} ms\n`)
    expect(s.events()[0]).toEqual(e)
    expect(s.frames.find((f) => f.event === 'message')?.id).toBe(String(e.id))
    expect(s.status).toBe(200)
    s.close()
  })

  it('filters by the device\'s session patterns: work-* never sees main, everyone sees events without a tab', async () => {
    const all = await addSignedInDevice(harness.home, target.origin, { name: 'all' })
    const work = await addSignedInDevice(harness.home, target.origin, { name: 'work', sessions: 'work-*' })
    const a = new Stream(all)
    const w = new Stream(work)
    await Promise.all([a.untilReady(), w.untilReady()])
    const main = await notify({ type: 'notify', message: 'main waits', tmux_session: 'main', tmux_window: 0 })
    const w1 = await notify({ type: 'stop', message: 'work done', tmux_session: 'work-1', tmux_window: 2 })
    const main2 = await notify({ type: 'error', message: 'main2', tmux_session: 'main-work-1' })
    const untabbed = await notify({ type: 'custom', message: 'build done' })
    await until(() => expect(a.ids()).toEqual([main.id, w1.id, main2.id, untabbed.id]))
    await until(() => expect(w.ids()).toEqual([w1.id, untabbed.id]))
    // Replays are filtered the same way.
    const replay = new Stream(work, `?since=${main.id - 1}`)
    await replay.untilReady()
    expect(replay.ids()).toEqual([w1.id, untabbed.id])
    for (const s of [a, w, replay]) s.close()
  })

  it('gives a client that reconnects with since each missed event once', async () => {
    const device = await addSignedInDevice(harness.home, target.origin)
    const first = new Stream(device)
    await first.untilReady()
    const seen = await notify({ type: 'stop', message: 'seen' })
    await until(() => expect(first.ids()).toEqual([seen.id]))
    first.close()

    const missed: number[] = []
    for (let i = 0; i < 3; i++) missed.push((await notify({ type: 'stop', message: `missed ${i}` })).id)
    const again = new Stream(device, `?since=${seen.id}`)
    const ready = await again.untilReady()
    expect(again.ids()).toEqual(missed)
    expect(ready.last_id).toBe(missed.at(-1))
    // The frames before ready are exactly the missed ones, and ready comes after them (then the sessions list, which is state, not an event).
    expect(again.frames.filter((f) => f.event !== 'sessions').map((f) => f.event)).toEqual(['message', 'message', 'message', 'ready'])
    const live = await notify({ type: 'stop', message: 'live' })
    await until(() => expect(again.ids()).toEqual([...missed, live.id]))
    again.close()

    // An EventSource reconnects with Last-Event-ID instead: the same answer.
    const viaHeader = new Stream(device, '', { 'last-event-id': String(seen.id) })
    await viaHeader.untilReady()
    expect(viaHeader.ids()).toEqual([...missed, live.id])
    viaHeader.close()
  })

  it('ends the stream of a device revoked while it is open', async () => {
    const device = await addSignedInDevice(harness.home, target.origin)
    const s = new Stream(device)
    await s.untilReady()
    const startedAt = performance.now()
    await changeDevice(harness.home, device.record.id, () => ({ status: 'revoked' }))
    await until(() => expect(s.ended).toBe(true))
    process.stderr.write(`revoked stream ended after ${(performance.now() - startedAt).toFixed(0)} ms\n`)
    await notify({ type: 'stop', message: 'after revoke' })
    // And it cannot come back.
    const again = await request(target.port, '/api/events', { headers: { cookie: device.cookie } })
    expect(again.status).toBe(401)
  })
})

describe('GET /api/events/recent', () => {
  const recent = async (device: TestDevice) => {
    const reply = await request(target.port, '/api/events/recent', { headers: { cookie: device.cookie } })
    expect(reply.status).toBe(200)
    return (reply.json as RecentEventsJson).events
  }

  it('lists the newest events the device may see, newest first, and refuses without a sign-in', async () => {
    expect((await request(target.port, '/api/events/recent')).status).toBe(401)
    const all = await addSignedInDevice(harness.home, target.origin, { name: 'all' })
    const work = await addSignedInDevice(harness.home, target.origin, { name: 'work', sessions: 'work-*' })
    const main = await notify({ type: 'notify', message: 'Claude needs your permission', title: 'Claude Code', tmux_session: 'main', tmux_window: 0 })
    const done = await notify({ type: 'stop', message: 'work done', tmux_session: 'work-1', tmux_window: 2 })
    const untabbed = await notify({ type: 'custom', message: 'build done' })
    await until(async () => expect((await recent(all)).slice(0, 3)).toEqual([untabbed, done, main]))
    expect((await recent(work)).slice(0, 2)).toEqual([untabbed, done])
    expect((await recent(work)).some((e) => e.tmux_session === 'main')).toBe(false)
  })

  it(`lists at most ${EVENT_STREAM_LIMITS.recentEvents}`, async () => {
    const device = await addSignedInDevice(harness.home, target.origin)
    let last = 0
    for (let i = 0; i <= EVENT_STREAM_LIMITS.recentEvents; i++) last = (await notify({ type: 'stop', message: `run ${i}` })).id
    await until(async () => expect((await recent(device))[0]?.id).toBe(last))
    const events = await recent(device)
    expect(events).toHaveLength(EVENT_STREAM_LIMITS.recentEvents)
    expect(events.at(-1)?.id).toBe(last - EVENT_STREAM_LIMITS.recentEvents + 1)
  })
})
