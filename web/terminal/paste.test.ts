import { describe, expect, it } from 'vitest'
import { describePaste, pasteNeedsConfirmation } from './paste.js'
import { parsePrefs, defaultPrefs } from './settings.js'

describe('pasteNeedsConfirmation', () => {
  it('lets a single line through and stops any line break', () => {
    expect(pasteNeedsConfirmation('git status')).toBe(false)
    expect(pasteNeedsConfirmation('tab\tseparated')).toBe(false)
    expect(pasteNeedsConfirmation('ls\n')).toBe(true)
    expect(pasteNeedsConfirmation('a\rb')).toBe(true)
    expect(pasteNeedsConfirmation('a\r\nb')).toBe(true)
    expect(pasteNeedsConfirmation('a\u2028b')).toBe(true)
  })
})

describe('describePaste', () => {
  it('counts lines (a trailing break adds none) and flags control characters', () => {
    expect(describePaste('one')).toEqual({ lines: 1, controls: false })
    expect(describePaste('one\ntwo\n')).toEqual({ lines: 2, controls: false })
    expect(describePaste('a\r\nb\rc')).toEqual({ lines: 3, controls: false })
    expect(describePaste('x\x1b[201~rm -rf ~\n')).toEqual({ lines: 1, controls: true })
  })
})

describe('parsePrefs', () => {
  const defaults = defaultPrefs(true)
  it('keeps valid fields and defaults the rest', () => {
    expect(parsePrefs(null, defaults)).toEqual(defaults)
    expect(parsePrefs('not json', defaults)).toEqual(defaults)
    expect(parsePrefs('{"fontSize": 100, "sizePolicy": "huge", "historyLines": 200}', defaults)).toEqual({
      ...defaults,
      fontSize: 28,
      historyLines: 200,
    })
    expect(parsePrefs('{"sizePolicy": "desktop", "historyLines": 50001}', defaults)).toEqual({ ...defaults, sizePolicy: 'desktop' })
    expect(parsePrefs('{"desktopZoom": "fit-width"}', defaults).desktopZoom).toBe('fit-width')
    expect(parsePrefs('{"desktopZoom": 0.8}', defaults).desktopZoom).toBe(0.8)
    for (const bad of ['0', '99', '"huge"', 'null', '"NaN"']) expect(parsePrefs(`{"desktopZoom": ${bad}}`, defaults).desktopZoom).toBe('readable')
  })
})

describe('safeLinkUrl', () => {
  it('opens only absolute http(s) URLs', async () => {
    const { safeLinkUrl } = await import('./links.js')
    expect(safeLinkUrl('https://example.com/a?b')).toBe('https://example.com/a?b')
    expect(safeLinkUrl('http://localhost:8080')).toBe('http://localhost:8080/')
    for (const bad of ['javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'file:///etc/passwd', 'data:text/html,x', 'vscode://x', '/relative', 'example.com']) {
      expect(safeLinkUrl(bad), bad).toBeUndefined()
    }
  })
})
