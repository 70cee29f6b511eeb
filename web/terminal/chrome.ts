import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'

/** The visual viewport this much shorter than the tallest seen at the same width: the soft keyboard is up. */
const KEYBOARD_SHARE = 0.75
/** Landscape on a screen this short (CSS px) or shorter is a phone turned sideways, not a tablet or a desktop window. */
const SHORT_LANDSCAPE_PX = 600
/** Wide enough for the toolbar's keys in one row at a usable width each. */
const ONE_ROW_TOOLBAR_PX = 560
/** The revealed bars hide again after this long untouched. */
const REVEAL_MS = 5_000

/**
 * The terminal screen's chrome (title bar, window strip, pane bar, toolbar)
 * and how much of the screen it may take. Where rows are scarce (a phone in
 * landscape, or the soft keyboard up) the bars collapse behind a tab that
 * shows them over the terminal, and in landscape the toolbar takes one row;
 * full screen hides everything but the terminal (and the tab). The
 * terminal's size does not change when the bars are shown over it.
 */
export class ScreenChrome implements Disposable {
  /** The bars that collapse: put the title bar, strip and pane bar in it. */
  readonly bars = h('div', { class: 'terminal-chrome', 'data-testid': 'terminal-chrome' })
  /** The tab that shows collapsed bars (and leaves full screen). */
  readonly tab = h('button', { type: 'button', class: 'chrome-tab', 'data-testid': 'chrome-tab', hidden: true, 'aria-label': 'Show the title bar and windows', 'aria-expanded': 'false' }, '⌄')
  private readonly store = new DisposableStore()
  /** Tallest visual viewport seen per layout width: the height without the keyboard. */
  private readonly tallest = new Map<number, number>()
  private hideTimer: Disposable | undefined
  private fullScreen = false

  constructor(
    private readonly screen: HTMLElement,
    private readonly changed: () => void,
  ) {
    this.store.listen(this.tab, 'click', () => (this.bars.dataset.revealed === undefined ? this.reveal() : this.conceal()))
    // A tap in the revealed bars (a window chosen, the menu opened) keeps them a while longer; a tap elsewhere hides them.
    this.store.listen(
      document,
      'pointerdown',
      (event) => {
        if (this.bars.dataset.revealed === undefined) return
        const target = event.target as Node
        if (this.bars.contains(target)) this.reveal()
        else if (!this.tab.contains(target)) this.conceal()
      },
      { capture: true },
    )
    this.store.listen(document, 'fullscreenchange', () => {
      if (!document.fullscreenElement && this.fullScreen) this.setFullScreen(false)
    })
    this.store.defer(() => this.hideTimer?.dispose())
  }

  /** Re-reads the space the screen has (call on every viewport change). */
  update(): void {
    const width = window.innerWidth
    const height = window.visualViewport?.height ?? window.innerHeight
    const tallest = Math.max(this.tallest.get(width) ?? 0, height)
    this.tallest.set(width, tallest)
    const keyboard = height < tallest * KEYBOARD_SHARE
    const landscape = width > height && height <= SHORT_LANDSCAPE_PX
    const compact = this.fullScreen || keyboard || landscape
    const before = this.screen.dataset.compact !== undefined
    toggleData(this.screen, 'compact', compact)
    toggleData(this.screen, 'keyboard', keyboard)
    toggleData(this.screen, 'oneRowToolbar', compact && width >= ONE_ROW_TOOLBAR_PX)
    this.tab.hidden = !compact
    if (!compact) this.conceal()
    if (before !== compact) this.changed()
  }

  get isFullScreen(): boolean {
    return this.fullScreen
  }

  /** Full screen: only the terminal (and the tab to leave); the browser's own full screen too where it has one. */
  setFullScreen(on: boolean): void {
    this.fullScreen = on
    toggleData(this.screen, 'fullScreen', on)
    if (on && !document.fullscreenElement) void document.documentElement.requestFullscreen?.({ navigationUI: 'hide' }).catch(() => {})
    if (!on && document.fullscreenElement) void document.exitFullscreen().catch(() => {})
    this.update()
    this.changed()
  }

  dispose(): void {
    this.store.dispose()
  }

  private reveal(): void {
    this.bars.dataset.revealed = ''
    this.tab.setAttribute('aria-expanded', 'true')
    this.hideTimer?.dispose()
    this.hideTimer = this.store.timeout(() => this.conceal(), REVEAL_MS)
  }

  private conceal(): void {
    delete this.bars.dataset.revealed
    this.tab.setAttribute('aria-expanded', 'false')
    this.hideTimer?.dispose()
    this.hideTimer = undefined
  }
}

function toggleData(element: HTMLElement, name: string, on: boolean): void {
  if (on) element.dataset[name] = ''
  else delete element.dataset[name]
}
