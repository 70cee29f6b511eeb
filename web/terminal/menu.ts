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
  detach(): void
}

/**
 * The terminal's ⋯ menu: text size, size policy, history lines, paste,
 * reconnect, reader and detach. A read-only phone's size and paste controls
 * are disabled (it always watches at desktop size).
 */
export class TerminalMenu implements Disposable {
  readonly button = h('button', { type: 'button', class: 'bar-button', 'data-testid': 'menu-open', 'aria-haspopup': 'true', 'aria-expanded': 'false', title: 'Terminal menu' }, '⋯')
  readonly element: HTMLElement
  private readonly store = new DisposableStore()
  private readonly fontLabel = h('span', { class: 'font-size', 'data-testid': 'font-size' })
  private readonly sizeFit: HTMLButtonElement
  private readonly sizeDesktop: HTMLButtonElement
  private readonly pasteButton: HTMLButtonElement

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
    this.element = h(
      'div',
      { class: 'terminal-menu', 'data-testid': 'menu', hidden: true, role: 'dialog', 'aria-label': 'Terminal menu' },
      h('div', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'Text'), fontDown, this.fontLabel, fontUp),
      h('div', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'Size'), this.sizeFit, this.sizeDesktop),
      readOnly ? h('p', { class: 'muted menu-note' }, 'A read-only phone always watches at desktop size.') : '',
      h('label', { class: 'menu-row' }, h('span', { class: 'menu-label' }, 'History'), historySelect, h('span', { class: 'muted' }, 'lines')),
      h('div', { class: 'menu-row' }, this.pasteButton, reconnectButton, readerItem, detachButton),
    )
    this.showFontSize(prefs.fontSize)
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
  }

  showFontSize(size: number): void {
    this.fontLabel.textContent = `${size}px`
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
