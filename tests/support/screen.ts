import type { Page } from 'playwright-core'
import type { Point } from './touch.js'

/**
 * Where the `index`-th character of the first screen row containing `text`
 * sits on the phone's terminal, in CSS px (the DOM renderer's rows; `cols`
 * is the pane's width, which the screen is scaled from).
 */
export function pointOfText(page: Page, text: string, index: number, cols: number): Promise<Point> {
  return page.evaluate(
    ([text, index, cols]) => {
      const screen = document.querySelector('[data-testid=terminal] .xterm-screen')!.getBoundingClientRect()
      const rows = [...document.querySelectorAll('[data-testid=terminal] .xterm-rows > div')]
      const row = rows.findIndex((r) => r.textContent?.includes(text))
      if (row < 0) throw new Error(`no row shows ${JSON.stringify(text)}`)
      const col = rows[row]!.textContent!.indexOf(text) + index
      return { x: screen.left + ((col + 0.5) * screen.width) / cols, y: screen.top + ((row + 0.5) * screen.height) / rows.length }
    },
    [text, index, cols] as const,
  )
}
