import fc from 'fast-check'

/** Any Unicode code point but lone surrogates. */
const codePoint = fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c))
/** Mostly the characters that break parsers: controls, quotes, separators, escapes, bidi, and the odd emoji. */
const awkward = fc.constantFrom('\x00', '\x1b', '\x07', '\n', '\r', '\t', '"', "'", '\\', '{', '}', '[', ']', ',', ':', ';', '=', '%', '#', '$', '*', '?', ' ', '\u202e', '\u009b', 'é', '✳', '漢')

/** Strings as outside input may be: any text, leaning to what breaks parsers. */
export const hostileString = (maxLength = 200): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof({ weight: 3, arbitrary: awkward }, { weight: 2, arbitrary: fc.constantFrom(...'abcXYZ019-_.') }, { weight: 1, arbitrary: codePoint }), maxLength })

/** Any JSON value, to feed to a parser as text. */
export const jsonText = fc.jsonValue().map((v) => JSON.stringify(v))
