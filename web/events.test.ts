import { describe, expect, it } from 'vitest'
import {
  addEvent,
  badgeFor,
  clearTab,
  emptyState,
  hasSeen,
  loadState,
  markReady,
  parseEvent,
  parseReady,
  parseSessions,
  streamUrl,
  UNSEEN_LIMITS,
  type StreamEvent,
  type UnseenState,
} from './events.js'

const ev = (id: number, extra: Partial<StreamEvent> = {}): StreamEvent => ({ id, type: 'notify', message: `m${id}`, ...extra })
const work0 = { session: 'work', window: 0 }
const work1 = { session: 'work', window: 1 }
const addAll = (state: UnseenState, events: StreamEvent[]): UnseenState => events.reduce((s, e) => addEvent(s, e), state)

describe('parseEvent', () => {
  it('reads an event with a tab', () => {
    const line = '{"id":41,"ts":"2026-01-02T03:04:05.678Z","type":"stop","message":"build done","title":"make","tmux_session":"main","tmux_window":1}'
    expect(parseEvent(line)).toEqual({ id: 41, ts: '2026-01-02T03:04:05.678Z', type: 'stop', message: 'build done', title: 'make', tab: { session: 'main', window: 1 } })
  })

  it('gives no tab to an event without a window index, as the server does', () => {
    expect(parseEvent('{"id":2,"type":"notify","message":"m","tmux_session":"main"}')?.tab).toBeUndefined()
    expect(parseEvent('{"id":2,"type":"notify","message":"m","tmux_session":"main","tmux_window":-1}')?.tab).toBeUndefined()
  })

  it("reads the labels of an event's choices, and nothing of a malformed list", () => {
    const line = '{"id":7,"type":"notify","message":"m","tmux_session":"main","tmux_window":0,"tmux_pane":"%3","choices":[{"label":"Yes","keys":"1"},{"label":"No","keys":"<Esc>"}]}'
    expect(parseEvent(line)?.choices).toEqual(['Yes', 'No'])
    expect(parseEvent('{"id":7,"type":"notify","message":"m","choices":[{"keys":"1"},"Yes",null]}')?.choices).toBeUndefined()
    expect(parseEvent('{"id":7,"type":"notify","message":"m","choices":{"label":"Yes"}}')?.choices).toBeUndefined()
  })

  it.each([
    ['not JSON', '{"id":1,'],
    ['an array', '[1]'],
    ['null', 'null'],
    ['no id', '{"type":"notify","message":"m"}'],
    ['id 0', '{"id":0,"type":"notify","message":"m"}'],
    ['a string id', '{"id":"1","type":"notify","message":"m"}'],
    ['no message', '{"id":1,"type":"notify"}'],
    ['a ready message', '{"type":"ready","last_id":4}'],
  ])('ignores %s', (_, data) => {
    expect(parseEvent(data)).toBeUndefined()
  })

  it('reads ready', () => {
    expect(parseReady('{"type":"ready","last_id":7}')).toBe(7)
    expect(parseReady('{"type":"ready","last_id":0}')).toBe(0)
    expect(parseReady('{"type":"ready"}')).toBeUndefined()
    expect(parseReady('nope')).toBeUndefined()
  })
})

describe('counting', () => {
  it('counts per window and sums per session, with the newest message (the title when it has none)', () => {
    const s = addAll(emptyState(), [ev(1, { tab: work0, title: 'Claude' }), ev(2, { tab: work0, title: 'Claude' }), ev(3, { tab: work1 }), ev(4, { tab: { session: 'other', window: 0 } })])
    expect(badgeFor(s, work0)).toEqual({ count: 2, latest: 'm2' })
    expect(badgeFor(addEvent(s, ev(5, { tab: work0, title: 'Claude', message: '' })), work0).latest).toBe('Claude')
    expect(badgeFor(s, work1)).toEqual({ count: 1, latest: 'm3' })
    expect(badgeFor(s, { session: 'work' })).toEqual({ count: 3, latest: 'm3' })
    expect(badgeFor(s, { session: 'none' })).toEqual({ count: 0 })
    expect(s.lastId).toBe(4)
  })

  it('counts a repeated id once (a replay after a reconnect)', () => {
    const once = addAll(emptyState(), [ev(1, { tab: work0 }), ev(2, { tab: work0 })])
    const again = addAll(once, [ev(1, { tab: work0 }), ev(2, { tab: work0 })])
    expect(again).toBe(once)
    expect(badgeFor(again, work0).count).toBe(2)
  })

  it('counts an id that arrives out of order, keeping the newest text', () => {
    const s = addAll(emptyState(), [ev(5, { tab: work0 }), ev(3, { tab: work0 })])
    expect(badgeFor(s, work0)).toEqual({ count: 2, latest: 'm5' })
    expect(s.lastId).toBe(5)
  })

  it('does not count events for the tab being looked at', () => {
    const s = addEvent(emptyState(), ev(1, { tab: work0 }), work0)
    expect(badgeFor(s, work0).count).toBe(0)
    expect(hasSeen(s, 1)).toBe(true)
    expect(badgeFor(addEvent(s, ev(2, { tab: work1 }), work0), work1).count).toBe(1)
  })

  it('does not count events without a tab while the sessions list is shown', () => {
    const shown = addEvent(emptyState(), ev(1), 'sessions')
    expect(shown.entries).toEqual([])
    const elsewhere = addEvent(emptyState(), ev(1), work0)
    expect(elsewhere.entries).toEqual([{ count: 1, latestId: 1, latest: 'm1' }])
  })
})

describe('clearing', () => {
  it('clears one tab, leaving the others', () => {
    const s = clearTab(addAll(emptyState(), [ev(1, { tab: work0 }), ev(2, { tab: work1 }), ev(3)]), work0)
    expect(badgeFor(s, work0).count).toBe(0)
    expect(badgeFor(s, { session: 'work' }).count).toBe(1)
    expect(s.entries).toHaveLength(2)
  })

  it('clears the events without a tab', () => {
    const s = clearTab(addAll(emptyState(), [ev(1, { tab: work0 }), ev(2)]), undefined)
    expect(s.entries).toEqual([{ tab: work0, count: 1, latestId: 1, latest: 'm1' }])
  })

  it('returns the same state when there is nothing to clear', () => {
    const s = addEvent(emptyState(), ev(1, { tab: work0 }))
    expect(clearTab(s, work1)).toBe(s)
  })

  it('keeps the ids after clearing, so a replay does not count them again', () => {
    const s = addEvent(clearTab(addEvent(emptyState(), ev(1, { tab: work0 })), work0), ev(1, { tab: work0 }))
    expect(badgeFor(s, work0).count).toBe(0)
  })
})

describe('caps', () => {
  it('keeps at most UNSEEN_LIMITS.tabs tabs, dropping the one updated longest ago', () => {
    const events = Array.from({ length: UNSEEN_LIMITS.tabs + 1 }, (_, i) => ev(i + 1, { tab: { session: 's', window: i } }))
    const s = addAll(emptyState(), events)
    expect(s.entries).toHaveLength(UNSEEN_LIMITS.tabs)
    expect(badgeFor(s, { session: 's', window: 0 }).count).toBe(0)
    expect(badgeFor(s, { session: 's', window: UNSEEN_LIMITS.tabs }).count).toBe(1)
  })

  it('counts at most UNSEEN_LIMITS.countPerTab per tab', () => {
    const events = Array.from({ length: UNSEEN_LIMITS.countPerTab + 1 }, (_, i) => ev(i + 1, { tab: work0 }))
    expect(badgeFor(addAll(emptyState(), events), work0).count).toBe(UNSEEN_LIMITS.countPerTab)
  })

  it('cuts the badge text at UNSEEN_LIMITS.textChars', () => {
    const s = addEvent(emptyState(), ev(1, { tab: work0, message: 'x'.repeat(UNSEEN_LIMITS.textChars + 1) }))
    const latest = badgeFor(s, work0).latest!
    expect([...latest]).toHaveLength(UNSEEN_LIMITS.textChars)
    expect(latest.endsWith('…')).toBe(true)
  })

  it('remembers UNSEEN_LIMITS.rememberedIds ids; older ones count as seen', () => {
    const n = UNSEEN_LIMITS.rememberedIds + 1
    const s = addAll(emptyState(), Array.from({ length: n }, (_, i) => ev(i + 1, { tab: work0 })))
    expect(s.ids).toHaveLength(UNSEEN_LIMITS.rememberedIds)
    expect(s.floor).toBe(1)
    expect(hasSeen(s, 1)).toBe(true)
    expect(addEvent(s, ev(1, { tab: work0 }))).toBe(s)
  })
})

describe('ready and the stream address', () => {
  it('starts without a replay, then asks since the last id', () => {
    expect(streamUrl(null)).toBe('/api/events')
    const ready = markReady(emptyState(), 0)
    expect(streamUrl(ready.lastId)).toBe('/api/events?since=0')
    expect(streamUrl(addEvent(ready, ev(9)).lastId)).toBe('/api/events?since=9')
  })

  it('follows a server whose ids started over', () => {
    const s = markReady(addAll(emptyState(), [ev(40, { tab: work0 })]), 2)
    expect(s.lastId).toBe(2)
    expect(badgeFor(addEvent(s, ev(3, { tab: work1 })), work1).count).toBe(1)
    expect(badgeFor(s, work0).count).toBe(1)
  })
})

describe('the sessions list', () => {
  const window0 = { index: 0, name: 'sh', active: true, title: '', command: 'sh', path: '/', activity: 1, width: 80, height: 24, statusLines: 1, panes: 1 }
  const main = { name: 'main', windows: 1, attached: 0, activity: 1, windowList: [window0] }

  it('reads an `event: sessions` message', () => {
    const data = JSON.stringify({ type: 'sessions', sessions: [main] })
    expect(parseSessions(data)).toEqual({ type: 'sessions', sessions: [main] })
    expect(parseSessions(JSON.stringify({ type: 'sessions', sessions: [] }))?.sessions).toEqual([])
  })

  it('ignores anything else', () => {
    for (const data of [
      'not json',
      'null',
      '[]',
      JSON.stringify({ type: 'ready', last_id: 1 }),
      JSON.stringify({ type: 'sessions' }),
      JSON.stringify({ type: 'sessions', sessions: [{ ...main, name: 7 }] }),
      JSON.stringify({ type: 'sessions', sessions: [{ ...main, windowList: undefined }] }),
      JSON.stringify({ type: 'sessions', sessions: [{ ...main, windowList: [null] }] }),
    ]) {
      expect(parseSessions(data)).toBeUndefined()
    }
  })
})

describe('storage', () => {
  it('round-trips through JSON', () => {
    const s = markReady(addAll(emptyState(), [ev(1, { tab: work0, title: 'T' }), ev(2)]), 2)
    expect(loadState(JSON.stringify(s))).toEqual(s)
  })

  it.each([null, '', 'not json', '[]', '{"entries":[{"count":"x"}],"ids":["a"],"lastId":-1}'])('starts empty from %j', (raw) => {
    expect(loadState(raw)).toEqual(emptyState())
  })

  it('drops malformed entries and keeps good ones', () => {
    const raw = JSON.stringify({
      lastId: 3,
      ids: [1, 2, 3],
      floor: 0,
      entries: [{ tab: { session: 'w', window: 'x' }, count: 1, latestId: 1, latest: 'a' }, { tab: work0, count: 5000, latestId: 3, latest: 'ok' }],
    })
    expect(loadState(raw).entries).toEqual([{ tab: work0, count: UNSEEN_LIMITS.countPerTab, latestId: 3, latest: 'ok' }])
  })
})
