import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { HISTORY_LINES, type SizePolicy, type TerminalPrefs } from './settings.js'

export interface TerminalMenuActions {
  /** One step larger (+1) or smaller (−1) text. */
  fontStep(delta: 1 | -1): void
  policy(policy: SizePolicy): void
  historyLines(lines: number): void
  paste(): void
  reconnect(): void
  reader(): void
  /** Selects the visible screen (the selection bar then copies it). */
  selectScreen(): void
  /** Copies what the last command printed; false when none is found. */
  copyLastOutput(): Promise<boolean>
  fullScreen(): void
  detach(): void
}

/**
 * The terminal's ⋯ menu: text size, size policy, history lines, paste,
 * selecting and copying, full screen, reconnect, reader and detach. A
 * read-only phone's size and paste controls are disabled (it always watches
 * at desktop size). A tap outside closes it.
 */
export class TerminalMenu implements Disposable {
  readonly button = h('button', { type: 'button', class: 'bar-button', 'data-testid': 'menu-open', 'aria-haspopup': 'true', 'aria-expanded': 'false', title: 'Terminal menu' }, '⋯')
  readonly element: HTMLElement
  private readonly store = new DisposableStore()
  private readonly fontLabel = h('span', { class: 'font-size', 'data-testid': 'font-size' })
  private readonly sizeFit: HTMLButtonElement
  private readonly sizeDesktop: HTMLButtonElement
  private readonly pasteButton: HTMLButtonElement
  private readonly fullScreenButton: HTMLButtonElement
  private readonly lastOutputButton: HTMLButtonElement

  constructor(prefs: TerminalPrefs, readOnly: boolean, actions: TerminalMenuActions) {
    const fontDown = h('button', { type: 'button', 'data-testid': 'font-down', 'aria-label': 'Smaller text' }, 'A−')
    const fontUp = h('button', { type: 'button', 'data-testid': 'font-up', 'aria-label': 'Larger text' }, 'A+')
    this.sizeFit = h('button', { type: 'button', 'data-testid': 'size-fit', disabled: readOnly }, 'Fit this phone')
    this.sizeDesktop = h('button', { type: 'button', 'data-testid': 'size-desktop', disabled: readOnly }, 'Desktop size')
    const historySelect = h('select', { 'data-testid': 'history-lines', 'aria-label': 'History lines' })
    for (const lines of new Set([...HISTORY_LINES.choices, prefs.historyLines].sort((a, b) => a - b))) {
      historySelect.append(h('option', { value: lines, selected: lines === prefs.historyLines }, lines === 0 ? 'none' : String(lines)))
    }
    this.pasteButton = h('button', { type: 'button', 'data-testid': 'paste', disabled: readOnly }, 'Paste')
    const reconnectButton = h('button', { type: 'button', 'data-testid': 'reconnect' }, 'Reconnect')
    const readerItem = h('button', { type: 'button', 'data-testid': 'menu-reader' }, 'Reader')
    const detachButton = h('button', { type: 'button', 'data-testid': 'detach' }, 'Detach')
    const selectScreenButton = h('button', { type: 'button', 'data-testid': 'select-screen' }, 'Select screen')
    this.lastOutputButton = h('button', { type: 'button', 'data-testid': 'copy-last-output' }, 'Copy last output')
    this.fullScreenButton = h('button', { type: 'button', 'data-testid': 'full-screen', 'aria-pressed': 'false' }, 'Full screen')
    this.element = h(
      'div',
      { class: 'terminal-menu', 'data-testid': 'menu', hidden: true, role: 'dialog', 'aria-label': 'Terminal menu' },
      h('div', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'Text'), fontDown, this.fontLabel, fontUp),
      h('div', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'Size'), this.sizeFit, this.sizeDesktop),
      readOnly ? h('p', { class: 'muted menu-note' }, 'A read-only phone always watches at desktop size.') : '',
      h('label', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'History'), historySelect, h('span', { class: 'muted' }, 'lines')),
      h('div', { class: 'menu-row' }, selectScreenButton, this.lastOutputButton),
      h('div', { class: 'menu-row' }, this.pasteButton, this.fullScreenButton, readerItem),
      h('div', { class: 'menu-row' }, reconnectButton, detachButton),
    )
    this.showPolicy(readOnly ? 'desktop' : prefs.sizePolicy)

    const { store } = this
    store.listen(this.button, 'click', () => (this.element.hidden ? this.open() : this.close()))
    store.listen(fontDown, 'click', () => actions.fontStep(-1))
    store.listen(fontUp, 'click', () => actions.fontStep(1))
    store.listen(this.sizeFit, 'click', () => actions.policy('fit'))
    store.listen(this.sizeDesktop, 'click', () => actions.policy('desktop'))
    store.listen(historySelect, 'change', () => actions.historyLines(Number(historySelect.value)))
    store.listen(this.pasteButton, 'click', () => {
      this.close()
      actions.paste()
    })
    store.listen(reconnectButton, 'click', () => {
      this.close()
      actions.reconnect()
    })
    store.listen(readerItem, 'click', () => {
      this.close()
      actions.reader()
    })
    store.listen(detachButton, 'click', () => actions.detach())
    store.listen(selectScreenButton, 'click', () => {
      this.close()
      actions.selectScreen()
    })
    store.listen(this.lastOutputButton, 'click', () => {
      void actions.copyLastOutput().then((copied) => {
        if (copied) return this.close()
        this.lastOutputButton.textContent = 'No output found'
      })
    })
    store.listen(this.fullScreenButton, 'click', () => {
      this.close()
      actions.fullScreen()
    })
    // A tap anywhere else closes the menu.
    store.listen(
      document,
      'pointerdown',
      (event) => {
        if (this.element.hidden) return
        const target = event.target as Node
        if (this.element.contains(target) || this.button.contains(target)) return
        this.close()
      },
      { capture: true },
    )
  }

  showFullScreen(on: boolean): void {
    this.fullScreenButton.setAttribute('aria-pressed', String(on))
  }

  /** The text size as the view has it: a font size, or the desktop view's zoom. */
  showFontSize(label: string): void {
    this.fontLabel.textContent = label
  }

  showPolicy(policy: SizePolicy): void {
    this.sizeFit.setAttribute('aria-pressed', String(policy === 'fit'))
    this.sizeDesktop.setAttribute('aria-pressed', String(policy === 'desktop'))
  }

  /** The browser refused to read the clipboard: say so on the button. */
  pasteRefused(): void {
    this.pasteButton.textContent = 'Paste (not allowed)'
  }

  open(): void {
    this.lastOutputButton.textContent = 'Copy last output'
    this.element.hidden = false
    this.button.setAttribute('aria-expanded', 'true')
  }

  close(): void {
    this.element.hidden = true
    this.button.setAttribute('aria-expanded', 'false')
  }

  dispose(): void {
    this.store.dispose()
    this.element.remove()
  }
}
