import { describe, expect, it } from 'vitest'
import { EVENT_LIMITS, parseEventLine, sanitizeEventText, serializeEvent } from './schema.js'

describe('sanitizeEventText', () => {
  it('removes terminal escape sequences whole', () => {
    expect(sanitizeEventText('\u001b[31mred\u001b[0m plain', 100)).toBe('red plain')
    expect(sanitizeEventText('a\u001b[2J\u001b[1;1Hb', 100)).toBe('ab')
    expect(sanitizeEventText('\u001b]0;evil title\u0007ok', 100)).toBe('ok')
    expect(sanitizeEventText('\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\', 100)).toBe('link')
    expect(sanitizeEventText('x\u009b31my', 100)).toBe('xy') // C1 CSI
    expect(sanitizeEventText('\u001bPdcs\u001b\\after', 100)).toBe('after')
    expect(sanitizeEventText('a\u001bcb', 100)).toBe('ab') // RIS
  })

  it('removes other controls and bidi overrides, turns line breaks into spaces', () => {
    expect(sanitizeEventText('a\u0000b\u0007c\u007fd\u0085e', 100)).toBe('abcd e')
    expect(sanitizeEventText('line1\nline2\r\n\tx', 100)).toBe('line1 line2 x')
    expect(sanitizeEventText('abc\u202edcba\u2066x\u2069', 100)).toBe('abcdcbax')
    expect(sanitizeEventText('  padded  ', 100)).toBe('padded')
    expect(sanitizeEventText('lone \ud800 surrogate', 100)).toBe('lone \ufffd surrogate')
  })

  it('caps by code points, at the limit and at limit + 1', () => {
    const max = EVENT_LIMITS.messageChars
    expect(sanitizeEventText('a'.repeat(max), max)).toBe('a'.repeat(max))
    const cut = sanitizeEventText('a'.repeat(max + 1), max)
    expect([...cut]).toHaveLength(max)
    expect(cut.endsWith('…')).toBe(true)
    // Astral characters count once and are never split.
    const emoji = sanitizeEventText('😀'.repeat(max + 1), max)
    expect([...emoji]).toHaveLength(max)
    expect(emoji).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/)
  })
})

describe('parseEventLine', () => {
  const line = (o: object) => JSON.stringify(o)

  it('accepts the schema, drops unknown fields and normalises ts to UTC', () => {
    const r = parseEventLine(
      line({ id: 3, ts: '2026-01-02T05:04:05+02:00', type: 'stop', message: 'done', tmux_session: 'main', tmux_window: 0, extra: true }),
    )
    expect(r).toEqual({ ok: true, event: { id: 3, ts: '2026-01-02T03:04:05.000Z', type: 'stop', message: 'done', tmux_session: 'main', tmux_window: 0 } })
  })

  it('sanitizes and caps text written by other programs', () => {
    const r = parseEventLine(line({ id: 1, ts: '2026-01-02T03:04:05Z', type: 'notify', message: '\u001b[1mhi', title: 't'.repeat(EVENT_LIMITS.titleChars + 1) }))
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.event.message).toBe('hi')
    expect([...r.event.title!]).toHaveLength(EVENT_LIMITS.titleChars)
  })

  it('leaves out optional text that is empty once cleaned', () => {
    const r = parseEventLine(line({ id: 1, ts: '2026-01-02T03:04:05Z', type: 'notify', message: 'm', title: '\u001b[0m' }))
    expect(r.ok && !('title' in r.event)).toBe(true)
  })

  it.each([
    ['no id', { ts: '2026-01-02T03:04:05Z', type: 'stop', message: 'm' }, 'id'],
    ['id 0', { id: 0, ts: '2026-01-02T03:04:05Z', type: 'stop', message: 'm' }, 'id'],
    ['fractional id', { id: 1.5, ts: '2026-01-02T03:04:05Z', type: 'stop', message: 'm' }, 'id'],
    ['no ts', { id: 1, type: 'stop', message: 'm' }, 'ts'],
    ['bad ts', { id: 1, ts: 'yesterday', type: 'stop', message: 'm' }, 'ts'],
    ['bad type', { id: 1, ts: '2026-01-02T03:04:05Z', type: 'Stop!', message: 'm' }, 'type'],
    ['type too long', { id: 1, ts: '2026-01-02T03:04:05Z', type: 'a'.repeat(33), message: 'm' }, 'type'],
    ['negative window', { id: 1, ts: '2026-01-02T03:04:05Z', type: 'stop', message: 'm', tmux_window: -1 }, 'tmux_window'],
    ['string window', { id: 1, ts: '2026-01-02T03:04:05Z', type: 'stop', message: 'm', tmux_window: '1' }, 'tmux_window'],
    ['no message', { id: 1, ts: '2026-01-02T03:04:05Z', type: 'stop' }, 'message'],
  ])('refuses %s, naming the field', (_name, value, field) => {
    const r = parseEventLine(line(value))
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.reason).toBe('invalid')
      expect(r.detail.startsWith(field)).toBe(true)
    }
  })

  it('tells garbage from invalid events', () => {
    expect(parseEventLine('{"id":1,"ts"')).toMatchObject({ ok: false, reason: 'malformed' })
    expect(parseEventLine('[1]')).toMatchObject({ ok: false, reason: 'invalid' })
  })
})

describe('serializeEvent', () => {
  it('keeps every line on one line and parses back the same', () => {
    const event = { id: 1, ts: '2026-01-02T03:04:05.000Z', type: 'stop', message: 'a\u2028b', cwd: '/x\u0085y' }
    const text = serializeEvent(event)
    expect(text).not.toMatch(/[\n\r\u2028\u2029\u0085]/)
    expect(JSON.parse(text)).toEqual(event)
  })
})

describe('event lines under any input (property)', () => {
  it('parse or say why, never throw; an event that parses serializes to a line that parses the same', async () => {
    const fc = (await import('fast-check')).default
    const { hostileString, jsonText } = await import('../../tests/support/arbitraries.js')
    const eventish = fc
      .record({ id: fc.oneof(fc.integer(), fc.double(), fc.string()), ts: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()), type: fc.oneof(fc.constantFrom('stop', 'notify', 'error'), fc.string()), message: hostileString(80), tmux_window: fc.anything() }, { requiredKeys: [] })
      .map((o) => JSON.stringify(o))
    fc.assert(
      fc.property(fc.oneof(hostileString(), jsonText, eventish), (line) => {
        const parsed = parseEventLine(line)
        if (!parsed.ok) {
          expect(['malformed', 'invalid']).toContain(parsed.reason)
          return
        }
        expect(parseEventLine(serializeEvent(parsed.event))).toEqual(parsed)
        expect(serializeEvent(parsed.event)).not.toMatch(/[\n\r]/)
      }),
    )
  })
})
