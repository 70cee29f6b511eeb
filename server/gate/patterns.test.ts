import { describe, it, expect } from 'vitest'
import { HandoffError } from '../errors.js'
import { formatSessionPatterns, matchesSession, parseSessionPatterns, PATTERN_LIMITS, type SessionPatterns } from './index.js'

const allows = (text: string, name: string) => matchesSession(parseSessionPatterns(text), name)

/** Runs `fn`, expecting a BAD_PATTERN HandoffError with status 400; returns its message. */
function badPattern(text: string): string {
  try {
    parseSessionPatterns(text)
  } catch (err) {
    expect(err).toBeInstanceOf(HandoffError)
    expect((err as HandoffError).code).toBe('BAD_PATTERN')
    expect((err as HandoffError).status).toBe(400)
    return (err as HandoffError).message
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`)
}

describe('matchesSession', () => {
  it.each([
    // pattern, name, allowed
    ['work-*', 'work-api', true],
    ['work-*', 'work-', true],
    ['work-*', 'work', false],
    ['work-*', 'main', false],
    ['work-*', 'xwork-a', false],
    ['work-*', 'Work-api', false], // case-sensitive
    ['main', 'main', true],
    ['main', 'main2', false],
    ['main', 'xmain', false],
    ['main', 'Main', false],
    ['main', '', false],
    ['*', 'main', true],
    ['*', 'anything at all', true],
    ['*-api', 'work-api', true],
    ['*-api', 'work-api2', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbYcZ', false],
    ['a*b*c', 'acb', false],
    ['*a*a*a*a*b', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', false], // backtracking stays linear-ish
  ])('%j vs %j → %s', (pattern, name, expected) => {
    expect(allows(pattern, name)).toBe(expected)
  })

  it('? matches exactly one character, anchored', () => {
    expect(allows('dev?', 'dev1')).toBe(true)
    expect(allows('dev?', 'dev')).toBe(false)
    expect(allows('dev?', 'dev12')).toBe(false)
    expect(allows('?', 'x')).toBe(true)
    expect(allows('?', '')).toBe(false)
    expect(allows('??', 'xy')).toBe(true)
    expect(allows('??', 'x')).toBe(false)
  })

  it('matches on code points: ? is one unicode character, even outside the BMP', () => {
    expect(allows('caf?', 'café')).toBe(true)
    expect(allows('?-log', '🚀-log')).toBe(true) // one code point, two UTF-16 units
    expect(allows('??-log', '🚀-log')).toBe(false)
    expect(allows('🚀*', '🚀 launch')).toBe(true)
    expect(allows('日本?', '日本語')).toBe(true)
    expect(allows('日本', '日本語')).toBe(false)
    // No normalization: a precomposed é and e + combining accent are different names.
    expect(allows('café', 'cafe\u0301')).toBe(false)
  })

  it.each([
    ['a.b', 'a.b', true],
    ['a.b', 'axb', false],
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
    ['a+b', 'aaab', false],
    ['(x)', '(x)', true],
    ['(x)', 'x', false],
    ['x#(y)', 'x#(y)', true],
    ['x#(y)', 'x#y', false],
    ['^$', '^$', true],
    ['^$', '', false],
    ['a|b', 'a', false],
    ['a|b', 'a|b', true],
    ['.*', 'anything', false],
    ['.*', '.*', true],
    ['.*', '.xyz', true], // . is literal, * is the glob
    ['$(whoami)*', '$(whoami)-x', true],
  ])('regex metacharacters are literal: %j vs %j → %s', (pattern, name, expected) => {
    expect(allows(pattern, name)).toBe(expected)
  })

  it('any of several patterns', () => {
    const p = parseSessionPatterns('work-*,main')
    expect(matchesSession(p, 'work-api')).toBe(true)
    expect(matchesSession(p, 'main')).toBe(true)
    expect(matchesSession(p, 'main2')).toBe(false)
    expect(matchesSession(p, 'play')).toBe(false)
  })

  it('grants nothing to a look-alike object that was not parsed', () => {
    const forged = JSON.parse('{"all":true,"items":["*"]}') as SessionPatterns
    expect(matchesSession(forged, 'main')).toBe(false)
    const copy = { ...parseSessionPatterns('*') } as SessionPatterns
    expect(matchesSession(copy, 'main')).toBe(false)
  })

  it('refuses a name that is not a string', () => {
    expect(matchesSession(parseSessionPatterns('*'), undefined as unknown as string)).toBe(false)
    expect(matchesSession(parseSessionPatterns('*'), 1 as unknown as string)).toBe(false)
  })
})

describe('parseSessionPatterns', () => {
  it('trims spaces around each item and keeps inner spaces', () => {
    const p = parseSessionPatterns('  work-* ,main ,  my session  ')
    expect(p.items).toEqual(['work-*', 'main', 'my session'])
    expect(matchesSession(p, 'my session')).toBe(true)
    expect(matchesSession(p, ' main')).toBe(false)
  })

  it('normalizes: ** collapses, duplicates drop, * alone means every session', () => {
    expect(parseSessionPatterns('a**b,a*b,c').items).toEqual(['a*b', 'c'])
    const all = parseSessionPatterns('work-*, *, main')
    expect(all.all).toBe(true)
    expect(all.items).toEqual(['*'])
    expect(parseSessionPatterns('***').all).toBe(true)
    expect(parseSessionPatterns('work-*').all).toBe(false)
  })

  it('round-trips through text and JSON', () => {
    for (const text of ['*', 'work-*,main', 'a?b,🚀*,x#(y)', 'my session,dev?']) {
      const p = parseSessionPatterns(text)
      expect(formatSessionPatterns(p)).toBe(text)
      expect(parseSessionPatterns(formatSessionPatterns(p))).toEqual(p)
      expect(JSON.stringify({ sessions: p })).toBe(JSON.stringify({ sessions: text }))
    }
    expect(formatSessionPatterns(parseSessionPatterns(' b , a ,b'))).toBe('b,a')
  })

  it('returns a frozen value', () => {
    const p = parseSessionPatterns('work-*')
    expect(Object.isFrozen(p)).toBe(true)
    expect(Object.isFrozen(p.items)).toBe(true)
    expect(() => (p.items as string[]).push('main')).toThrow(TypeError)
  })

  it('accepts the limits exactly', () => {
    const longest = 'x'.repeat(PATTERN_LIMITS.itemCodePoints)
    expect(parseSessionPatterns(longest).items).toEqual([longest])
    const astral = '🚀'.repeat(PATTERN_LIMITS.itemCodePoints) // 64 code points, 128 UTF-16 units
    expect(parseSessionPatterns(astral).items).toEqual([astral])
    const most = Array.from({ length: PATTERN_LIMITS.items }, (_, i) => `s${i}`).join(',')
    expect(parseSessionPatterns(most).items).toHaveLength(32)
  })

  it('refuses empty input and empty items', () => {
    expect(badPattern('')).toMatch(/no session patterns/)
    expect(badPattern('   ')).toMatch(/no session patterns/)
    expect(badPattern('a,,b')).toMatch(/pattern 2 .*empty/)
    expect(badPattern('a, ,b')).toMatch(/empty/)
    expect(badPattern('a,')).toMatch(/pattern 2 .*empty/)
    expect(badPattern(',a')).toMatch(/pattern 1 .*empty/)
    expect(badPattern(',')).toMatch(/empty/)
  })

  it('refuses an item one code point over the limit, quoting it', () => {
    expect(badPattern('x'.repeat(65))).toMatch(/"x{65}" is not allowed: it is 65 characters long, at most 64/)
    expect(badPattern(`main,${'🚀'.repeat(65)}`)).toMatch(/65 characters long/)
  })

  it('refuses one item over the count limit', () => {
    const text = Array.from({ length: PATTERN_LIMITS.items + 1 }, (_, i) => `s${i}`).join(',')
    expect(badPattern(text)).toMatch(/33 session patterns given, at most 32/)
  })

  it('refuses huge text before looking at items', () => {
    expect(badPattern(' '.repeat(PATTERN_LIMITS.textUnits) + 'a')).toMatch(/at most 8192/)
  })

  it.each([
    ['tab', 'work\t*', 'U+0009'],
    ['newline', 'main\n', 'U+000A'],
    ['carriage return', 'ma\rin', 'U+000D'],
    ['NUL', 'a\u0000', 'U+0000'],
    ['escape', '\u001b[31mred', 'U+001B'],
    ['DEL', 'a\u007f', 'U+007F'],
    ['C1 CSI', 'a\u009b', 'U+009B'],
    ['right-to-left override', 'main\u202e*', 'U+202E'],
    ['right-to-left isolate', '\u2067x', 'U+2067'],
  ])('refuses control characters: %s', (_label, text, shown) => {
    const message = badPattern(text)
    expect(message).toContain(shown)
    expect(message).toContain('control character')
    // The message quotes with JSON escapes, so it never carries the raw character.
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e\u2067]/)
  })

  it.each([
    ['[', 'dev[12]', /"dev\[12\]" is not allowed: .*character classes .*not supported/],
    [']', 'dev]', /"dev\]" is not allowed: .*not supported/],
    ['{', 'web-{a,b}', /"web-\{a" is not allowed: .*alternatives .*not supported/],
    ['}', 'x}', /"x\}" is not allowed: .*not supported/],
    ['\\', 'a\\*', /"a\\\\\*" is not allowed: .*escapes are not supported/],
  ])('refuses unsupported syntax %s, saying so', (_label, text, message) => {
    expect(badPattern(text)).toMatch(message)
  })

  it('names the bad item among good ones', () => {
    expect(badPattern('work-*, ma[i]n, play')).toMatch(/^session pattern "ma\[i\]n" is not allowed/)
  })

  it('refuses a value that is not text', () => {
    expect(badPattern(undefined as unknown as string)).toMatch(/must be text/)
    expect(badPattern(['*'] as unknown as string)).toMatch(/must be text/)
  })
})

describe('session patterns under any input (property)', () => {
  it('parse or refuse with BAD_PATTERN, never anything else; a parsed list reads back the same', async () => {
    const fc = (await import('fast-check')).default
    const { hostileString } = await import('../../tests/support/arbitraries.js')
    fc.assert(
      fc.property(hostileString(120), (text) => {
        let patterns: SessionPatterns
        try {
          patterns = parseSessionPatterns(text)
        } catch (err) {
          expect((err as HandoffError).code).toBe('BAD_PATTERN')
          return
        }
        expect(parseSessionPatterns(formatSessionPatterns(patterns))).toEqual(patterns)
      }),
    )
  })

  it('a pattern without wildcards allows exactly its own name', async () => {
    const fc = (await import('fast-check')).default
    const name = fc.string({ unit: fc.constantFrom(...'abcXY09-_.'), minLength: 1, maxLength: 20 })
    fc.assert(
      fc.property(name, name, (pattern, session) => {
        expect(allows(pattern, session)).toBe(pattern === session)
      }),
    )
  })
})
