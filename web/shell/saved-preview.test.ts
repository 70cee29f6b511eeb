import { describe, expect, it } from 'vitest'
import { screenLines } from './saved-preview.js'

const text = (data: string, rows = 24) => screenLines(data, rows).map((line) => line.map((run) => run.text).join(''))

describe('screenLines', () => {
  it('splits rows and turns the gaps the serializer skips into spaces', () => {
    expect(text('$ ls\r\na\x1b[3Cb\r\n#\x1b[1C')).toEqual(['$ ls', 'a   b', '# '])
  })

  it('keeps colours as styled runs', () => {
    expect(screenLines('\x1b[31mred\x1b[0m plain', 24)[0]).toEqual([
      { text: 'red', style: { fg: 1 } },
      { text: ' plain', style: {} },
    ])
  })

  it('shows the alternate screen when a full-screen program had it', () => {
    expect(text('shell prompt\r\n\x1b[?1049h\x1b[Hvim line 1\r\nvim line 2')).toEqual(['vim line 1', 'vim line 2'])
  })

  it('shows at most the saved number of rows', () => {
    expect(text('1\r\n2\r\n3\r\n4', 2)).toEqual(['1', '2'])
  })
})
