import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HandoffError } from '../errors.js'
import type { AppEnv } from '../http/index.js'
import { newDeviceId, updateDevices, type DeviceRecord } from '../store/index.js'
import { parseSince, createEventRoutes } from './routes.js'
import type { EventPipeline } from './pipeline.js'
import type { HandoffEvent } from './schema.js'

let home: string
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'handoff-routes-'))
})
afterEach(() => rmSync(home, { recursive: true, force: true }))

const event = (id: number, tmux_session?: string): HandoffEvent => ({
  id,
  ts: new Date().toISOString(),
  type: 'custom',
  message: `m${id}`,
  ...(tmux_session === undefined ? {} : { tmux_session }),
})

/** A pipeline stand-in: a fixed ring and a way to emit live events. */
function fakePipeline(stored: HandoffEvent[]) {
  const listeners = new Set<(e: HandoffEvent) => void>()
  const pipeline: Pick<EventPipeline, 'subscribe' | 'recent' | 'lastId'> = {
    subscribe: (fn) => (listeners.add(fn), () => void listeners.delete(fn)),
    recent: (since, limit) => stored.filter((e) => e.id > since).slice(-limit),
    lastId: () => Math.max(0, ...stored.map((e) => e.id)),
  }
  return { pipeline, emit: (e: HandoffEvent) => listeners.forEach((fn) => fn(e)), listeners }
}

async function addDevice(sessions = '*'): Promise<DeviceRecord> {
  const now = Date.now()
  const record: DeviceRecord = {
    id: newDeviceId(), name: 'phone', status: 'active', sessions, readOnly: true, createdAt: now, expiresAt: now + 3_600_000,
    lastSeenAt: null, renewalRequestedAt: null, credential: null, tailnetUser: null, tailnetNode: null, generation: 1, suspect: false, pairing: null,
  }
  await updateDevices(home, (devices) => [...devices, record])
  return record
}

function appFor(deps: Parameters<typeof createEventRoutes>[0], device: DeviceRecord | null) {
  const app = new Hono<AppEnv>()
  app.use('*', async (c, next) => {
    c.set('peer', { address: '127.0.0.1', node: null, user: null })
    c.set('device', device)
    await next()
  })
  app.route('/', createEventRoutes(deps))
  app.onError((err, c) => (err instanceof HandoffError ? c.json({ error: { code: err.code } }, err.status) : c.json({ error: { code: 'INTERNAL' } }, 500)))
  return app
}

/** Reads an SSE body until `done` says so (or 5 s), then cancels it. */
async function readUntil(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const deadline = Date.now() + 5_000
  while (!done(text) && Date.now() < deadline) {
    const { value, done: end } = await reader.read()
    if (end) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  return text
}

describe('parseSince', () => {
  it('takes whole numbers from 0 and refuses the rest with BAD_REQUEST', () => {
    expect(parseSince(undefined)).toBeUndefined()
    expect(parseSince('')).toBeUndefined()
    expect(parseSince('0')).toBe(0)
    expect(parseSince('42')).toBe(42)
    for (const bad of ['-1', ' 1', '1.0', '0x10', '1e2', '12345678901234567']) expect(() => parseSince(bad)).toThrow(HandoffError)
  })
})

describe('GET /api/events', () => {
  it('replays after since in id order, then ready, then live, each with its id; heartbeats when idle', async () => {
    const device = await addDevice()
    const { pipeline, emit } = fakePipeline([event(1), event(2), event(3)])
    const app = appFor({ pipeline, home, now: Date.now, heartbeatMs: 50 }, device)
    const res = await app.request('/api/events?since=1')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    setTimeout(() => emit(event(4)), 20)
    const text = await readUntil(res, (t) => t.includes(': heartbeat'))
    const blocks = text.split('\n\n').filter((b) => b !== '')
    expect(blocks.slice(0, 4)).toEqual([
      expect.stringMatching(/^data: \{"id":2,.*\nid: 2$/),
      expect.stringMatching(/^data: \{"id":3,.*\nid: 3$/),
      'event: ready\ndata: {"type":"ready","last_id":3}\nid: 3',
      expect.stringMatching(/^data: \{"id":4,.*\nid: 4$/),
    ])
    expect(blocks[4]).toBe(': heartbeat')
  })

  it('refuses an unknown device (401) and a bad since (400) before streaming', async () => {
    const { pipeline, listeners } = fakePipeline([])
    expect((await appFor({ pipeline, home, now: Date.now }, null).request('/api/events')).status).toBe(401)
    const device = await addDevice()
    const res = await appFor({ pipeline, home, now: Date.now }, device).request('/api/events?since=x')
    expect(res.status).toBe(400)
    expect(listeners.size).toBe(0)
  })

  it('lets go of the pipeline when the client goes away', async () => {
    const device = await addDevice('work-*')
    const { pipeline, emit, listeners } = fakePipeline([])
    const res = await appFor({ pipeline, home, now: Date.now }, device).request('/api/events')
    emit(event(1, 'main'))
    emit(event(2, 'work-a'))
    const text = await readUntil(res, (t) => t.includes('id: 2'))
    expect(text).not.toContain('"id":1')
    await new Promise((r) => setTimeout(r, 20))
    expect(listeners.size).toBe(0)
  })
})
