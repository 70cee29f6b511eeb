import type { FitAddon } from '@xterm/addon-fit'
import type { Terminal } from '@xterm/xterm'
import type { DisposableStore } from '../lifetime.js'
import type { SizePolicy } from './settings.js'

/** At desktop size the screen is never scaled below this (pan instead). */
export const MIN_DESKTOP_SCALE = 0.3

/**
 * Sizes the terminal. "fit": xterm takes the host's size in cells (and tmux
 * follows). "desktop": xterm keeps the window's own size and is scaled with
 * a CSS transform to the host's width times `zoom`; the host pans when
 * zoomed in. After every change the cursor row and the last rows stay in view.
 */
export class TerminalLayout {
  mode: SizePolicy = 'fit'
  /** The window's size in cells, for "desktop". */
  desktop: { cols: number; rows: number } | undefined
  /** "desktop" only: 1 is the host's width, more zooms in. */
  zoom = 1

  constructor(
    private readonly term: Terminal,
    private readonly fit: FitAddon,
    private readonly host: HTMLElement,
    private readonly sizer: HTMLElement,
  ) {}

  refit(): void {
    const element = this.term.element
    if (!element) return
    this.host.dataset.size = this.mode
    if (this.mode === 'fit') {
      this.sizer.style.removeProperty('width')
      this.sizer.style.removeProperty('height')
      element.style.removeProperty('transform')
      element.style.removeProperty('width')
      element.style.removeProperty('height')
      // proposeDimensions is undefined while the host has no size (a hidden tab).
      if (this.fit.proposeDimensions()) this.fit.fit()
    } else {
      if (this.desktop && (this.term.cols !== this.desktop.cols || this.term.rows !== this.desktop.rows)) {
        this.term.resize(this.desktop.cols, this.desktop.rows)
      }
      const screen = element.querySelector<HTMLElement>('.xterm-screen')
      const width = screen?.offsetWidth ?? 0
      const height = screen?.offsetHeight ?? 0
      if (width > 0 && this.host.clientWidth > 0) {
        const scale = Math.max(MIN_DESKTOP_SCALE, (this.host.clientWidth / width) * this.zoom)
        element.style.width = `${width}px`
        element.style.height = `${height}px`
        element.style.transform = `scale(${scale})`
        this.sizer.style.width = `${Math.ceil(width * scale)}px`
        this.sizer.style.height = `${Math.ceil(height * scale)}px`
      }
    }
    this.keepCursorInView()
  }

  /** Shows the last rows, and at desktop size pans the host to the cursor row. */
  keepCursorInView(): void {
    this.term.scrollToBottom()
    if (this.mode !== 'desktop') return
    const rows = this.term.rows
    const rowHeight = this.sizer.offsetHeight / Math.max(1, rows)
    const cursorBottom = (this.term.buffer.active.cursorY + 1) * rowHeight
    if (cursorBottom > this.host.scrollTop + this.host.clientHeight) this.host.scrollTop = cursorBottom - this.host.clientHeight
    else if (cursorBottom - rowHeight < this.host.scrollTop) this.host.scrollTop = cursorBottom - rowHeight
  }
}

/**
 * Calls `refit` whenever the space for the terminal changes. On phones the
 * on-screen keyboard shrinks only the visual viewport (iOS), so the screen
 * follows `visualViewport` through `--app-height` and `--app-top`.
 */
export function followViewport(store: DisposableStore, refit: () => void, host: HTMLElement): void {
  let frame = 0
  const scheduleFit = () => {
    cancelAnimationFrame(frame)
    frame = requestAnimationFrame(refit)
  }
  store.defer(() => cancelAnimationFrame(frame))

  const rootStyle = document.documentElement.style
  const viewport = window.visualViewport
  const place = () => {
    if (!viewport) return
    rootStyle.setProperty('--app-height', `${viewport.height}px`)
    rootStyle.setProperty('--app-top', `${viewport.offsetTop}px`)
  }
  const follow = () => {
    place()
    scheduleFit()
  }
  place()
  refit()
  store.defer(() => {
    rootStyle.removeProperty('--app-height')
    rootStyle.removeProperty('--app-top')
  })
  store.listen(window, 'resize', follow)
  if (viewport) {
    store.listen(viewport, 'resize', follow)
    // iOS scrolls the visual viewport when the keyboard opens; the screen moves with it.
    store.listen(viewport, 'scroll', follow)
  }

  const observer = new ResizeObserver(scheduleFit)
  observer.observe(host)
  store.defer(() => observer.disconnect())
}
