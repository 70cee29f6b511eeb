import { describe, expect, it } from 'vitest'
import { commandLine, quoteArgument } from './command-line.js'

describe('command lines for tmux', () => {
  it('leaves plain words bare and quotes everything else', () => {
    expect(quoteArgument('list-windows')).toBe('list-windows')
    expect(quoteArgument('@7')).toBe('@7')
    expect(quoteArgument('$3')).toBe(`'$3'`)
    expect(quoteArgument('%5')).toBe(`'%5'`)
    expect(quoteArgument('')).toBe(`''`)
    expect(quoteArgument('#{session_name}')).toBe(`'#{session_name}'`)
  })

  it('writes quotes and control characters as octal escapes, never a raw newline', () => {
    const quoted = quoteArgument(`it's\n;$HOME`)
    expect(quoted).toBe('"it\\047s\\012\\073\\044HOME"')
    expect(quoted).not.toMatch(/[\n\r]/)
    expect(quoteArgument("é'")).toBe('"\\303\\251\\047"')
    expect(quoteArgument('é ✳')).toBe("'é ✳'")
  })

  it('joins commands with a separate ;', () => {
    expect(commandLine([['display', '-p', 'a b'], ['kill-window', '-t', '@1']])).toBe(`display -p 'a b' ; kill-window -t @1`)
  })
})
