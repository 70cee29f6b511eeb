import { describe, expect, it } from 'vitest'
import { cssColor, parseSgr } from './sgr.js'

describe('parseSgr', () => {
  it('splits lines and keeps colours and attributes per run', () => {
    const lines = parseSgr('plain \x1b[1;31mred bold\x1b[0m end\n\x1b[38;5;208morange\x1b[39m\n\n\x1b[48;2;1;2;255mbg')
    expect(lines).toHaveLength(4)
    expect(lines[0]).toEqual([
      { text: 'plain ', style: {} },
      { text: 'red bold', style: { bold: true, fg: 1 } },
      { text: ' end', style: {} },
    ])
    expect(lines[1]).toEqual([{ text: 'orange', style: { fg: 208 } }])
    expect(lines[2]).toEqual([])
    expect(lines[3]).toEqual([{ text: 'bg', style: { bg: '#0102ff' } }])
  })

  it('keeps HTML in the output as text and drops every other escape sequence', () => {
    const text = '<img src=x onerror=alert(1)>\x1b]0;title\x07\x1b[2J\x1b[H&amp;\x1b(B\x1b]8;;http://x\x1b\\link\x07\x08'
    const lines = parseSgr(text)
    const all = lines.flat().map((r) => r.text).join('')
    expect(all).toBe('<img src=x onerror=alert(1)>&amp;link')
    for (const run of lines.flat()) expect(run.text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/)
  })

  it('resets attributes selectively', () => {
    const [line] = parseSgr('\x1b[1;3;4mA\x1b[22mB\x1b[23;24mC\x1b[mD')
    expect(line!.map((r) => r.style)).toEqual([
      { bold: true, italic: true, underline: true },
      { italic: true, underline: true },
      {},
      {},
    ])
  })

  it('survives malformed or truncated sequences', () => {
    expect(parseSgr('a\x1b[38;5mb\x1b[38;2;300;0;0mc\x1b[').flat().map((r) => r.text).join('')).toBe('abc')
  })
})

describe('cssColor', () => {
  it('maps the palette, the cube, the grey ramp and true colour', () => {
    expect(cssColor(16)).toBe('#000000')
    expect(cssColor(196)).toBe('#ff0000')
    expect(cssColor(231)).toBe('#ffffff')
    expect(cssColor(232)).toBe('#080808')
    expect(cssColor('#abcdef')).toBe('#abcdef')
  })
})
