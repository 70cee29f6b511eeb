import { describe, expect, it } from 'vitest'
import { applyModifiers, ctrlByte, keySequence, NO_MODIFIERS, type Modifiers } from './keys.js'

const mods = (m: Partial<Modifiers>): Modifiers => ({ ...NO_MODIFIERS, ...m })
const CTRL = mods({ ctrl: true })
const ALT = mods({ alt: true })
const SHIFT = mods({ shift: true })

describe('ctrlByte', () => {
  it('maps every letter to its C0 byte, either case', () => {
    for (let i = 0; i < 26; i++) {
      const byte = String.fromCharCode(i + 1)
      expect(ctrlByte(String.fromCharCode(0x61 + i))).toBe(byte)
      expect(ctrlByte(String.fromCharCode(0x41 + i))).toBe(byte)
    }
    expect(ctrlByte('c')).toBe('\x03')
  })

  it('maps the punctuation and digits xterm maps', () => {
    const table: Record<string, string> = {
      '@': '\x00', ' ': '\x00', '2': '\x00', '`': '\x00',
      '[': '\x1b', '3': '\x1b', '{': '\x1b',
      '\\': '\x1c', '4': '\x1c', '|': '\x1c',
      ']': '\x1d', '5': '\x1d', '}': '\x1d',
      '^': '\x1e', '6': '\x1e', '~': '\x1e',
      '_': '\x1f', '/': '\x1f', '-': '\x1f', '7': '\x1f',
      '?': '\x7f', '8': '\x7f',
    }
    for (const [ch, byte] of Object.entries(table)) expect(ctrlByte(ch), JSON.stringify(ch)).toBe(byte)
  })

  it('leaves keys without a control byte alone', () => {
    for (const ch of ['1', '9', '0', '.', ',', 'é', '', 'ab']) expect(ctrlByte(ch)).toBeUndefined()
  })
})

describe('keySequence', () => {
  it('sends cursor keys as CSI normally and SS3 in application cursor mode', () => {
    expect(keySequence('up', NO_MODIFIERS, false)).toBe('\x1b[A')
    expect(keySequence('down', NO_MODIFIERS, false)).toBe('\x1b[B')
    expect(keySequence('right', NO_MODIFIERS, false)).toBe('\x1b[C')
    expect(keySequence('left', NO_MODIFIERS, false)).toBe('\x1b[D')
    expect(keySequence('home', NO_MODIFIERS, false)).toBe('\x1b[H')
    expect(keySequence('end', NO_MODIFIERS, false)).toBe('\x1b[F')
    expect(keySequence('up', NO_MODIFIERS, true)).toBe('\x1bOA')
    expect(keySequence('down', NO_MODIFIERS, true)).toBe('\x1bOB')
    expect(keySequence('right', NO_MODIFIERS, true)).toBe('\x1bOC')
    expect(keySequence('left', NO_MODIFIERS, true)).toBe('\x1bOD')
    expect(keySequence('home', NO_MODIFIERS, true)).toBe('\x1bOH')
    expect(keySequence('end', NO_MODIFIERS, true)).toBe('\x1bOF')
  })

  it('adds xterm modifier parameters to cursor and paging keys, in either mode', () => {
    expect(keySequence('up', SHIFT, true)).toBe('\x1b[1;2A')
    expect(keySequence('left', ALT, false)).toBe('\x1b[1;3D')
    expect(keySequence('right', CTRL, true)).toBe('\x1b[1;5C')
    expect(keySequence('home', mods({ ctrl: true, shift: true }), false)).toBe('\x1b[1;6H')
    expect(keySequence('pgup', NO_MODIFIERS, true)).toBe('\x1b[5~')
    expect(keySequence('pgdn', NO_MODIFIERS, false)).toBe('\x1b[6~')
    expect(keySequence('pgup', CTRL, false)).toBe('\x1b[5;5~')
  })

  it('sends back-tab for Shift+Tab and a line feed for Shift+Enter', () => {
    expect(keySequence('tab', NO_MODIFIERS, false)).toBe('\t')
    expect(keySequence('tab', SHIFT, false)).toBe('\x1b[Z')
    expect(keySequence('enter', NO_MODIFIERS, false)).toBe('\r')
    expect(keySequence('enter', SHIFT, false)).toBe('\n')
    expect(keySequence('enter', ALT, false)).toBe('\x1b\r')
  })

  it('sends ESC, ^C and readline word moves', () => {
    expect(keySequence('esc', NO_MODIFIERS, false)).toBe('\x1b')
    expect(keySequence('esc', ALT, false)).toBe('\x1b\x1b')
    expect(keySequence('ctrl-c', NO_MODIFIERS, false)).toBe('\x03')
    expect(keySequence('word-left', NO_MODIFIERS, true)).toBe('\x1bb')
    expect(keySequence('word-right', NO_MODIFIERS, false)).toBe('\x1bf')
  })
})

describe('applyModifiers', () => {
  it('passes text through without modifiers', () => {
    expect(applyModifiers('ls -la', NO_MODIFIERS)).toBe('ls -la')
  })

  it('turns the next typed key into its control byte', () => {
    expect(applyModifiers('c', CTRL)).toBe('\x03')
    expect(applyModifiers('/', CTRL)).toBe('\x1f')
    expect(applyModifiers('-', CTRL)).toBe('\x1f')
    expect(applyModifiers('[', CTRL)).toBe('\x1b')
    expect(applyModifiers(' ', CTRL)).toBe('\x00')
    // No control byte: the key is sent as typed.
    expect(applyModifiers('1', CTRL)).toBe('1')
  })

  it('modifies only the first character of a multi-character input', () => {
    expect(applyModifiers('cd', CTRL)).toBe('\x03d')
    expect(applyModifiers('hello', SHIFT)).toBe('Hello')
    expect(applyModifiers('😀x', ALT)).toBe('\x1b😀x')
  })

  it('prefixes ESC for Alt, also with Ctrl', () => {
    expect(applyModifiers('b', ALT)).toBe('\x1bb')
    expect(applyModifiers('x', mods({ alt: true, ctrl: true }))).toBe('\x1b\x18')
    expect(applyModifiers('\x7f', ALT)).toBe('\x1b\x7f')
  })

  it('applies Shift to letters, Tab and Enter', () => {
    expect(applyModifiers('a', SHIFT)).toBe('A')
    expect(applyModifiers('\t', SHIFT)).toBe('\x1b[Z')
    expect(applyModifiers('\r', SHIFT)).toBe('\n')
    expect(applyModifiers('\r', CTRL)).toBe('\r')
  })
})
