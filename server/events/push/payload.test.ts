import { describe, expect, it } from 'vitest'
import { PUSH_LIMITS } from './limits.js'
import { encodePayload, payloadFor, topicFor, ttlFor, urgencyFor } from './payload.js'

const KEY = Buffer.alloc(32, 9).toString('base64url')
const base = { id: 7, ts: '2026-01-02T03:04:05.000Z', type: 'notify', message: 'Claude is waiting' }

describe('payloadFor', () => {
  it('names the tab in tag and url', () => {
    expect(payloadFor({ ...base, tmux_session: 'my work/ü', tmux_window: 3 }, false)).toEqual({
      id: 7,
      ts: base.ts,
      type: 'notify',
      title: 'my work/ü:3',
      body: 'Claude is waiting',
      tag: 'tab:my work/ü:3',
      url: '/t/my%20work%2F%C3%BC/3',
    })
  })
  it('uses the type for an event without a tab', () => {
    const p = payloadFor({ ...base, title: 'Build' }, false)
    expect(p).toMatchObject({ title: 'Build', tag: 'type:notify', url: '/' })
  })
  it('sends the title only for private notifications', () => {
    expect(payloadFor({ ...base, title: 'Build' }, true)).toMatchObject({ title: 'Build', body: '' })
  })
  it('strips control characters', () => {
    expect(payloadFor({ ...base, message: 'a\u001b[31mb\u0007\u202e' }, false).body).toBe('a [31mb')
  })
})

describe('payloadFor with choices', () => {
  const asking = {
    ...base,
    tmux_session: 'proj',
    tmux_window: 2,
    tmux_pane: '%7',
    choices: [
      { label: 'Yes', keys: '1' },
      { label: 'No\u202e', keys: '<Esc>' },
    ],
  }

  it('carries the labels and the answer marker to a device that may answer', () => {
    expect(payloadFor(asking, false, true)).toMatchObject({ url: '/t/proj/2?answer=7', choices: ['Yes', 'No'] })
  })
  it('carries neither to a read-only device', () => {
    const p = payloadFor(asking, false, false)
    expect(p.url).toBe('/t/proj/2')
    expect(p).not.toHaveProperty('choices')
  })
  it('carries neither when the event names no pane or no tab to answer in', () => {
    const { tmux_pane: _pane, ...noPane } = asking
    expect(payloadFor(noPane, false, true)).not.toHaveProperty('choices')
    const { tmux_window: _window, ...noTab } = asking
    expect(payloadFor(noTab, false, true)).toMatchObject({ url: '/' })
    expect(payloadFor(noTab, false, true)).not.toHaveProperty('choices')
  })
  it('keeps the choices in private notifications (they are how to answer)', () => {
    expect(payloadFor(asking, true, true)).toMatchObject({ body: '', choices: ['Yes', 'No'] })
  })
  it('keeps six long labels within the largest bucket, and drops them only with the tab', () => {
    const many = { ...asking, message: '😀'.repeat(1000), choices: Array.from({ length: 6 }, () => ({ label: '😀'.repeat(40), keys: '1' })) }
    const out = JSON.parse(encodePayload(payloadFor(many, false, true)).toString()) as { choices?: string[] }
    expect(out.choices).toHaveLength(6)
    const huge = JSON.parse(encodePayload(payloadFor({ ...many, tmux_session: '%'.repeat(3000) }, false, true)).toString()) as { url: string; choices?: string[] }
    expect(huge.url).toBe('/')
    expect(huge).not.toHaveProperty('choices')
  })
})

describe('encodePayload', () => {
  it.each([
    ['x', 10, 1_024],
    ['x', 900, 1_024],
    ['x', 1_000, 2_048],
    ['ü', 1_000, 3_968], // 2 bytes each
  ])('pads a body of "%s" × %i to the %i-byte bucket', (char, count, bucket) => {
    const out = encodePayload(payloadFor({ ...base, message: char.repeat(count) }, false))
    expect(out.length).toBe(bucket)
    expect(JSON.parse(out.toString()).id).toBe(7)
  })
  it('keeps a huge body within the largest bucket, still JSON', () => {
    const p = payloadFor({ ...base, message: '😀'.repeat(1000), title: '"'.repeat(120) }, false)
    const out = encodePayload(p)
    expect(out.length).toBe(PUSH_LIMITS.payloadBuckets.at(-1))
    expect(JSON.parse(out.toString()).title).toBe(p.title)
  })
  it('falls back to the list for a tab name too long for any bucket', () => {
    const out = encodePayload(payloadFor({ ...base, tmux_session: '%'.repeat(3000), tmux_window: 1 }, false))
    const parsed = JSON.parse(out.toString()) as { url: string; tag: string }
    expect(out.length).toBeLessThanOrEqual(PUSH_LIMITS.payloadBuckets.at(-1)!)
    expect(parsed.url).toBe('/')
  })
})

describe('topicFor', () => {
  it('is 32 base64url characters, never the session name, one per tab and device', () => {
    const event = { ...base, tmux_session: 'secret-project', tmux_window: 1 }
    const t = topicFor(KEY, 'device-a', event)
    expect(t).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(t).not.toContain('secret')
    expect(topicFor(KEY, 'device-a', { ...event, id: 8, message: 'other' })).toBe(t)
    expect(topicFor(KEY, 'device-a', { ...event, tmux_window: 2 })).not.toBe(t)
    expect(topicFor(KEY, 'device-b', event)).not.toBe(t)
    expect(topicFor(Buffer.alloc(32, 1).toString('base64url'), 'device-a', event)).not.toBe(t)
  })
})

describe('ttlFor and urgencyFor', () => {
  it('follow the type', () => {
    expect([ttlFor('notify'), ttlFor('error'), ttlFor('stop'), ttlFor('custom'), ttlFor('constructor')]).toEqual([3600, 3600, 900, 1800, 1800])
    expect([urgencyFor('notify'), urgencyFor('error'), urgencyFor('stop')]).toEqual(['high', 'high', 'normal'])
  })
})
