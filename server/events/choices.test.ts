import { describe, expect, it } from 'vitest'
import { CHOICE_LIMITS, parseChoiceKeys } from './choices.js'

describe('parseChoiceKeys', () => {
  it.each([
    ['1', [{ text: '1' }], '1'],
    ['y<Enter>', [{ text: 'y' }, { key: 'Enter' }], 'y<Enter>'],
    ['<esc>', [{ key: 'Escape' }], '<Esc>'],
    ['<Escape>', [{ key: 'Escape' }], '<Esc>'],
    ['<Down><Down><CR>', [{ key: 'Down' }, { key: 'Down' }, { key: 'Enter' }], '<Down><Down><Enter>'],
    ['<S-Tab>', [{ key: 'BTab' }], '<S-Tab>'],
    ['a<lt>b>c', [{ text: 'a<b>c' }], 'a<lt>b>c'],
    ['yes please', [{ text: 'yes please' }], 'yes please'],
    [':wq<Enter>', [{ text: ':wq' }, { key: 'Enter' }], ':wq<Enter>'],
    ['ü😀', [{ text: 'ü😀' }], 'ü😀'],
  ])('reads %j', (raw, inputs, canonical) => {
    expect(parseChoiceKeys(raw)).toEqual({ ok: true, inputs, canonical })
  })

  it('reads its own canonical spelling back the same', () => {
    for (const raw of ['y<enter>', '<BACKSPACE><space>', '<return>', '<lt><lt>']) {
      const first = parseChoiceKeys(raw)
      expect(first.ok && parseChoiceKeys(first.canonical)).toEqual(first)
    }
  })

  it.each([
    ['', /empty/],
    ['y\r', /U\+000D/],
    ['\u001b[A', /U\+001B/],
    ['\u007f', /U\+007F/],
    ['\u0085', /U\+0085/],
    ['a\u202eb', /U\+202E/],
    ['\ud800', /U\+D800/],
    ['<F13>', /unknown key "<F13>"/],
    ['<Enter', /unknown key/],
    ['<', /unknown key/],
    ['<C-c>', /unknown key/],
  ])('refuses %j, saying why', (raw, reason) => {
    const r = parseChoiceKeys(raw)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toMatch(reason)
  })

  it('caps the canonical spelling at the limit', () => {
    expect(parseChoiceKeys('x'.repeat(CHOICE_LIMITS.keysChars)).ok).toBe(true)
    expect(parseChoiceKeys('x'.repeat(CHOICE_LIMITS.keysChars + 1)).ok).toBe(false)
    // Written long, counted as spelled canonically: <Escape> is <Esc>.
    expect(parseChoiceKeys('<Escape>'.repeat(6)).ok).toBe(true)
  })
})
