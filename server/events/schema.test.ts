import { describe, expect, it } from 'vitest'
import { CHOICE_LIMITS } from './choices.js'
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

describe('choices and the pane', () => {
  const base = { id: 1, ts: '2026-01-02T03:04:05Z', type: 'notify', message: 'Claude needs your permission to use Bash' }
  const parse = (extra: object) => parseEventLine(JSON.stringify({ ...base, ...extra }))

  it('reads an old line without them exactly as before', () => {
    expect(parse({})).toEqual({ ok: true, event: { ...base, ts: '2026-01-02T03:04:05.000Z' } })
  })

  it('accepts choices and a pane, spelling named keys canonically and cleaning labels', () => {
    const r = parse({
      tmux_pane: '%12',
      choices: [
        { label: 'Yes', keys: '1' },
        { label: '\u001b[1mAlways\u001b[0m\n', keys: 'y<enter>', extra: true },
        { label: 'No', keys: '<ESCAPE>' },
      ],
    })
    expect(r.ok && r.event).toMatchObject({
      tmux_pane: '%12',
      choices: [
        { label: 'Yes', keys: '1' },
        { label: 'Always', keys: 'y<Enter>' },
        { label: 'No', keys: '<Esc>' },
      ],
    })
    expect(r.ok && r.event.choices?.[1]).not.toHaveProperty('extra')
  })

  it('leaves out an empty list, and cuts a long label', () => {
    expect(parse({ choices: [] })).toMatchObject({ ok: true, event: expect.not.objectContaining({ choices: expect.anything() }) })
    const r = parse({ choices: [{ label: 'x'.repeat(CHOICE_LIMITS.labelChars + 1), keys: '1' }] })
    expect(r.ok && [...r.event.choices![0]!.label]).toHaveLength(CHOICE_LIMITS.labelChars)
  })

  it.each([
    ['a pane id without %', { tmux_pane: '5' }, 'tmux_pane'],
    ['a pane id with more', { tmux_pane: '%5; kill-server' }, 'tmux_pane'],
    ['a pane target by name', { tmux_pane: 'main:0.1' }, 'tmux_pane'],
    ['choices not a list', { choices: { label: 'Yes', keys: '1' } }, 'choices'],
    ['one choice too many', { choices: Array.from({ length: CHOICE_LIMITS.count + 1 }, (_, i) => ({ label: `c${i}`, keys: String(i) })) }, 'choices'],
    ['a choice without keys', { choices: [{ label: 'Yes' }] }, 'choices.0.keys'],
    ['empty keys', { choices: [{ label: 'Yes', keys: '' }] }, 'choices.0.keys'],
    ['keys with a raw control byte', { choices: [{ label: 'Yes', keys: 'y\r' }] }, 'choices.0.keys'],
    ['keys with a raw escape', { choices: [{ label: 'Quit', keys: '\u001b:q!' }] }, 'choices.0.keys'],
    ['keys with a C1 control', { choices: [{ label: 'Yes', keys: '\u009b2J' }] }, 'choices.0.keys'],
    ['an unknown named key', { choices: [{ label: 'Yes', keys: '<F13>' }] }, 'choices.0.keys'],
    ['an unclosed named key', { choices: [{ label: 'Yes', keys: '<Enter' }] }, 'choices.0.keys'],
    ['keys over the limit', { choices: [{ label: 'Yes', keys: 'y'.repeat(CHOICE_LIMITS.keysChars + 1) }] }, 'choices.0.keys'],
    ['a label empty once cleaned', { choices: [{ label: '\u001b[0m', keys: '1' }] }, 'choices.0.label'],
  ])('refuses %s, naming the field', (_name, extra, field) => {
    const r = parse(extra)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.detail.startsWith(`${field}:`)).toBe(true)
  })

  it('takes keys at the limit', () => {
    expect(parse({ choices: [{ label: 'Yes', keys: 'y'.repeat(CHOICE_LIMITS.keysChars) }] }).ok).toBe(true)
    expect(parse({ choices: Array.from({ length: CHOICE_LIMITS.count }, (_, i) => ({ label: `c${i}`, keys: String(i) })) }).ok).toBe(true)
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
      .record({ id: fc.oneof(fc.integer(), fc.double(), fc.string()), ts: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()), type: fc.oneof(fc.constantFrom('stop', 'notify', 'error'), fc.string()), message: hostileString(80), tmux_window: fc.anything(), tmux_pane: fc.oneof(fc.constantFrom('%0', '%42'), fc.string()), choices: fc.oneof(fc.array(fc.record({ label: hostileString(50), keys: fc.oneof(fc.constantFrom('1', 'y<Enter>', '<esc>', '<lt>x'), hostileString(40)) }), { maxLength: 8 }), fc.anything()) }, { requiredKeys: [] })
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
