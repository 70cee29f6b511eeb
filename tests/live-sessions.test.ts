import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SessionsEventJson, SessionWithWindowsJson } from '../protocol/index.js'
import { tmuxSpawns } from '../server/tmux/index.js'
import { addSignedInDevice, changeDevice, type TestDevice } from './support/device.js'
import { request, startHarness, type Harness } from './support/server.js'
import { SseStream } from './support/sse.js'

// The live sessions list on GET /api/events of a real server over a private
// tmux server: each change made in tmux (as on the desktop) reaches the
// stream within 200 ms, filtered by each device's grant.

/** How soon a change in tmux must show in the stream. */
const LIVE_MS = 200

let h: Harness
beforeEach(async () => {
  h = await startHarness()
  h.tmux.newSession('main')
})
afterEach(async () => {
  await h.stop()
})

/** The event stream as these tests read it: its sessions lists. */
class Stream extends SseStream {
  constructor(device: TestDevice) {
    super(h.server.port, device.cookie)
  }

  /** Every `event: sessions` so far, in order. */
  lists(): SessionsEventJson[] {
    return this.data<SessionsEventJson>('sessions')
  }

  latest(): SessionWithWindowsJson[] | undefined {
    return this.lists().at(-1)?.sessions
  }
}

const names = (sessions: SessionWithWindowsJson[] | undefined) => sessions?.map((s) => s.name)
const windowsOf = (s: Stream, session: string) => s.latest()?.find((x) => x.name === session)?.windowList.map((w) => `${w.index}:${w.name}`)

/** Runs a tmux command as the desktop would, then waits (at most LIVE_MS) for the stream to show its effect; returns how long that took. */
async function change(tmuxArgs: string[], shows: () => void): Promise<number> {
  h.tmux.run(...tmuxArgs)
  const started = performance.now()
  await vi.waitFor(shows, { timeout: LIVE_MS, interval: 2 })
  return performance.now() - started
}

describe('the live sessions list on /api/events', () => {
  it('sends the list after ready, then each change tmux makes within 200 ms, with no tmux process per change', async () => {
    const s = new Stream(h.device)
    await vi.waitFor(() => expect(s.latest()).toBeDefined(), { timeout: 10_000 })
    // After ready, and without an SSE id: an EventSource's Last-Event-ID stays that of the last notify event.
    expect(s.frames.findIndex((f) => f.event === 'ready')).toBeLessThan(s.frames.findIndex((f) => f.event === 'sessions'))
    expect(s.frames.filter((f) => f.event === 'sessions').every((f) => f.id === undefined)).toBe(true)
    // The same JSON as the HTTP API's.
    const http = await request(h.server.port, '/api/sessions/main/windows', { headers: { cookie: h.device.cookie } })
    expect(s.latest()?.[0]?.windowList).toEqual(http.json)
    expect(s.latest()?.[0]?.windowList[0]?.panes).toBe(1)

    const spawned = tmuxSpawns()
    const took: Record<string, number> = {}
    took['new-window'] = await change(['new-window', '-d', '-t', 'main:1', '-n', 'logs'], () => expect(windowsOf(s, 'main')).toContain('1:logs'))
    took['rename-window'] = await change(['rename-window', '-t', 'main:1', 'build'], () => expect(windowsOf(s, 'main')).toContain('1:build'))
    took['split-window'] = await change(['split-window', '-d', '-t', 'main:1'], () =>
      expect(s.latest()?.[0]?.windowList[1]?.panes).toBe(2),
    )
    took['kill-window'] = await change(['kill-window', '-t', 'main:1'], () => expect(windowsOf(s, 'main')).toHaveLength(1))
    took['new-session'] = await change(['new-session', '-d', '-s', 'work-1'], () => expect(names(s.latest())).toEqual(['main', 'work-1']))
    took['rename-session'] = await change(['rename-session', '-t', 'work-1', 'work-2'], () => expect(names(s.latest())).toEqual(['main', 'work-2']))
    took['kill-session'] = await change(['kill-session', '-t', 'work-2'], () => expect(names(s.latest())).toEqual(['main']))
    process.stderr.write(`tmux change → sessions event: ${Object.entries(took).map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join(', ')}\n`)
    expect(Math.max(...Object.values(took))).toBeLessThan(LIVE_MS)
    expect(tmuxSpawns()).toBe(spawned)
    s.close()
  })

  it('shows a device only the sessions its grant lets it list: work-* never sees main', async () => {
    const work = await addSignedInDevice(h.home, h.origin, { name: 'work', sessions: 'work-*' })
    h.tmux.newSession('work-1')
    h.tmux.newSession('main-work-1')
    const all = new Stream(h.device)
    const w = new Stream(work)
    await vi.waitFor(() => expect(names(all.latest())).toEqual(['main', 'main-work-1', 'work-1']), { timeout: 10_000 })
    await vi.waitFor(() => expect(names(w.latest())).toEqual(['work-1']), { timeout: 10_000 })
    // A change in main alone sends the work device nothing, not even its unchanged list: no list repeats the one before.
    await change(['new-window', '-d', '-t', 'main:1', '-n', 'secret'], () => expect(windowsOf(all, 'main')).toContain('1:secret'))
    await change(['new-window', '-d', '-t', 'work-1:1', '-n', 'visible'], () => expect(windowsOf(w, 'work-1')).toContain('1:visible'))
    await change(['new-session', '-d', '-s', 'work-2'], () => expect(names(w.latest())).toEqual(['work-1', 'work-2']))
    // Renamed out of the grant: gone from the work device's list at once.
    await change(['rename-session', '-t', 'work-2', 'mainly'], () => expect(names(w.latest())).toEqual(['work-1']))
    await vi.waitFor(() => expect(names(all.latest())).toEqual(['main', 'main-work-1', 'mainly', 'work-1']))
    const sent = w.lists().map((list) => JSON.stringify(list))
    expect(sent.filter((list, i) => i > 0 && list === sent[i - 1])).toEqual([])
    for (const list of w.lists()) {
      expect(names(list.sessions)?.filter((n) => !n.startsWith('work-'))).toEqual([])
      expect(JSON.stringify(list)).not.toContain('secret')
    }
    all.close()
    w.close()
  })

  it("ends a revoked device's stream, which then gets no list", async () => {
    const phone = await addSignedInDevice(h.home, h.origin, { name: 'revoked soon' })
    const s = new Stream(phone)
    await vi.waitFor(() => expect(s.latest()).toBeDefined(), { timeout: 10_000 })
    await changeDevice(h.home, phone.record.id, () => ({ status: 'revoked' }))
    await vi.waitFor(() => expect(s.ended).toBe(true), { timeout: 5_000 })
    const seen = s.lists().length
    h.tmux.run('new-window', '-d', '-t', 'main:1')
    // The server's own stream for the signed-in harness device sees the change; the revoked one had ended.
    const other = new Stream(h.device)
    await vi.waitFor(() => expect(windowsOf(other, 'main')).toHaveLength(2), { timeout: 10_000 })
    expect(s.lists()).toHaveLength(seen)
    other.close()
  })
})
