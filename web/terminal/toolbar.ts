import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { applyModifiers, keySequence, NO_MODIFIERS, type Modifiers, type ToolbarKey } from './keys.js'

/** Hold this long for a key's long-press action. */
export const LONG_PRESS_MS = 450
/** Word moves repeat this often while ←/→ stay held. */
export const REPEAT_INTERVAL_MS = 120

type Action = { key: ToolbarKey } | { text: string } | { modifier: keyof Modifiers }

interface KeySpec {
  label: string
  id: string
  tap: Action
  long?: Action
  /** The long-press action repeats until release. */
  repeat?: boolean
  title: string
}

const ROWS: KeySpec[][] = [
  [
    { label: 'ESC', id: 'esc', tap: { key: 'esc' }, long: { key: 'ctrl-c' }, title: 'Escape; hold for Ctrl-C' },
    { label: '/', id: 'slash', tap: { text: '/' }, title: 'Slash' },
    { label: '-', id: 'dash', tap: { text: '-' }, long: { text: '|' }, title: 'Dash; hold for a pipe' },
    { label: 'HOME', id: 'home', tap: { key: 'home' }, title: 'Home' },
    { label: '↑', id: 'up', tap: { key: 'up' }, long: { key: 'pgup' }, title: 'Up; hold for Page Up' },
    { label: 'END', id: 'end', tap: { key: 'end' }, title: 'End' },
    { label: 'SHIFT', id: 'shift', tap: { modifier: 'shift' }, title: 'Shift for the next key' },
  ],
  [
    { label: 'TAB', id: 'tab', tap: { key: 'tab' }, title: 'Tab' },
    { label: 'CTRL', id: 'ctrl', tap: { modifier: 'ctrl' }, title: 'Ctrl for the next key' },
    { label: 'ALT', id: 'alt', tap: { modifier: 'alt' }, title: 'Alt for the next key' },
    { label: '←', id: 'left', tap: { key: 'left' }, long: { key: 'word-left' }, repeat: true, title: 'Left; hold to move back by words' },
    { label: '↓', id: 'down', tap: { key: 'down' }, long: { key: 'pgdn' }, title: 'Down; hold for Page Down' },
    { label: '→', id: 'right', tap: { key: 'right' }, long: { key: 'word-right' }, repeat: true, title: 'Right; hold to move forward by words' },
    { label: 'ENTER', id: 'enter', tap: { key: 'enter' }, title: 'Enter (Shift: new line without submitting)' },
  ],
]

export interface ToolbarOptions {
  /** Sends bytes to the pane. */
  send(data: string): void
  /** xterm's `modes.applicationCursorKeysMode` right now. */
  appCursor(): boolean
  /** A read-only device: every key disabled, visibly. */
  disabled: boolean
}

/**
 * The two rows of keys above the soft keyboard. CTRL, ALT and SHIFT are
 * one-shot: they apply to the next toolbar key or to the next key typed on
 * the soft keyboard (`takeModifiers`), then let go.
 */
export class Toolbar implements Disposable {
  readonly element: HTMLElement
  private readonly store = new DisposableStore()
  private mods: Modifiers = { ...NO_MODIFIERS }
  private readonly modButtons = new Map<keyof Modifiers, HTMLButtonElement>()
  /** Ends the key being held (its long-press timer or repeat). */
  private release: ((tapped?: boolean) => void) | undefined

  /**
   * Shown but not sending: while the computer is unreachable (keys would be
   * lost) or the reader covers the terminal. Keys still answer a tap, so the
   * screen can say why nothing happens.
   */
  setPaused(paused: boolean): void {
    if (paused) this.element.dataset.paused = ''
    else delete this.element.dataset.paused
  }

  constructor(private readonly options: ToolbarOptions) {
    this.element = h('div', {
      class: 'term-toolbar',
      'data-testid': 'toolbar',
      role: 'toolbar',
      'aria-label': 'Terminal keys',
      'aria-disabled': options.disabled ? 'true' : undefined,
    })
    for (const row of ROWS) {
      const rowElement = h('div', { class: 'term-toolbar-row' })
      for (const spec of row) rowElement.append(this.button(spec))
      this.element.append(rowElement)
    }
    this.store.defer(() => this.release?.())
    // Losing focus (app switch, notification shade) lets go of a held key.
    this.store.listen(window, 'blur', () => this.release?.())
    this.store.listen(document, 'visibilitychange', () => this.release?.())
  }

  /** The pending modifiers, cleared: the soft keyboard's next key uses them. */
  takeModifiers(): Modifiers {
    const mods = this.mods
    if (mods.ctrl || mods.alt || mods.shift) this.setMods({ ...NO_MODIFIERS })
    return mods
  }

  dispose(): void {
    this.store.dispose()
  }

  private button(spec: KeySpec): HTMLButtonElement {
    const button = h(
      'button',
      { type: 'button', class: 'term-key', 'data-testid': `key-${spec.id}`, title: spec.title, disabled: this.options.disabled, tabindex: -1 },
      spec.label,
    )
    if ('modifier' in spec.tap) {
      this.modButtons.set(spec.tap.modifier, button)
      button.setAttribute('aria-pressed', 'false')
    }
    this.store.listen(button, 'pointerdown', (event) => {
      // Keeps focus (and the soft keyboard) on the terminal.
      event.preventDefault()
      if (this.options.disabled || (event as PointerEvent).button > 0) return
      this.release?.()
      button.setPointerCapture?.((event as PointerEvent).pointerId)
      this.press(button, spec)
    })
    const up = () => this.release?.(true)
    const cancel = () => this.release?.()
    this.store.listen(button, 'pointerup', up)
    this.store.listen(button, 'pointercancel', cancel)
    this.store.listen(button, 'lostpointercapture', cancel)
    // Keyboard activation (a hardware keyboard's Space/Enter on the button) has no pointer.
    this.store.listen(button, 'click', (event) => {
      if ((event as MouseEvent).detail === 0 && !this.options.disabled) this.run(spec.tap)
    })
    this.store.listen(button, 'contextmenu', (event) => event.preventDefault())
    return button
  }

  /** Starts a press: the tap fires on release unless the long-press fired first. */
  private press(button: HTMLButtonElement, spec: KeySpec): void {
    const held = new DisposableStore()
    let longFired = false
    button.dataset.pressed = ''
    if (spec.long) {
      const long = spec.long
      held.add(
        this.store.timeout(() => {
          longFired = true
          button.dataset.long = 'fired'
          this.run(long)
          if (spec.repeat) {
            const interval = setInterval(() => this.run(long), REPEAT_INTERVAL_MS)
            held.defer(() => clearInterval(interval))
          }
        }, LONG_PRESS_MS),
      )
    }
    this.release = (tapped = false) => {
      this.release = undefined
      held.dispose()
      delete button.dataset.pressed
      if (tapped && !longFired) this.run(spec.tap)
    }
  }

  private run(action: Action): void {
    navigator.vibrate?.(10)
    if ('modifier' in action) {
      this.setMods({ ...this.mods, [action.modifier]: !this.mods[action.modifier] })
      return
    }
    const mods = this.takeModifiers()
    const data = 'key' in action ? keySequence(action.key, mods, this.options.appCursor()) : applyModifiers(action.text, mods)
    this.options.send(data)
  }

  private setMods(mods: Modifiers): void {
    this.mods = mods
    for (const [name, button] of this.modButtons) button.setAttribute('aria-pressed', String(mods[name]))
  }
}
