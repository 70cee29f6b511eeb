import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { forTerminal, forTerminalLines, hasControlChars, UNTRUSTED_LIMITS } from './untrusted.js'

/** What must never reach a terminal raw from untrusted text. */
const ACTS_ON_A_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u
const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c))
const lowCodePoint = fc.integer({ min: 0, max: 0x2100 }).map((c) => String.fromCodePoint(c))
const nasty = fc.string({ unit: fc.oneof(fc.constantFrom('\x1b', '\x07', '\n', '\r', '\u009b', '\u202e', '\u2066', '\\', 'é', '✳'), lowCodePoint, anyCodePoint) })

describe('untrusted text for a terminal', () => {
  it('names the common escapes', () => {
    expect(forTerminal('\x1b]52;c;eA==\x07\r\n\t\u009b\u202e')).toBe('\\e]52;c;eA==\\x07\\r\\n\\t\\x9b\\u202e')
    expect(forTerminalLines('a\x1b[2J\nb')).toBe('a\\e[2J\nb')
  })

  it('never lets a control character through, whatever the text', () => {
    fc.assert(
      fc.property(nasty, (text) => {
        expect(forTerminal(text, 10_000)).not.toMatch(ACTS_ON_A_TERMINAL)
        expect(forTerminalLines(text, 10_000).replace(/\n/g, '')).not.toMatch(ACTS_ON_A_TERMINAL)
      }),
    )
  })

  it('leaves text without controls as it is, and caps what is long', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '-', 'é', '漢', '✳', '\\'), maxLength: 150 }), (text) => {
        expect(forTerminal(text)).toBe(text)
        expect(hasControlChars(text)).toBe(false)
      }),
    )
    const long = 'x'.repeat(UNTRUSTED_LIMITS.fieldChars + 50)
    expect([...forTerminal(long)]).toHaveLength(UNTRUSTED_LIMITS.fieldChars)
    expect(forTerminal(long).endsWith('…')).toBe(true)
  })

  it('says whether text holds controls, as forTerminal would change it', () => {
    fc.assert(
      fc.property(nasty, (text) => {
        expect(hasControlChars(text)).toBe(forTerminal(text, Infinity) !== text)
      }),
    )
  })
})
