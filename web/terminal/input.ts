import type { Terminal } from '@xterm/xterm'
import { h } from '../dom.js'
import type { DisposableStore } from '../lifetime.js'
import { bytesOfBinaryString } from './flow.js'
import { applyModifiers, NO_MODIFIERS, type Modifiers } from './keys.js'

export interface InputDeps {
  readOnly: boolean
  send(data: string | Uint8Array<ArrayBuffer>): void
  /** The toolbar's one-shot modifiers, taken by the next typed key. */
  takeModifiers(): Modifiers
}

/**
 * What the phone types reaches the pane: xterm's keys and replies (a
 * read-only phone sends none of them), the toolbar's sticky modifiers on
 * typed keys, and Shift+Enter as a line feed (a newline without submitting,
 * in Claude Code).
 */
export function wireInput(store: DisposableStore, term: Terminal, deps: InputDeps): void {
  // Everything xterm emits is input, terminal query replies (DA, DSR) included.
  store.add(
    term.onData((data) => {
      if (deps.readOnly) return
      // Sticky modifiers apply to typed keys, not to escape sequences.
      const mods = data.startsWith('\x1b') ? NO_MODIFIERS : deps.takeModifiers()
      deps.send(applyModifiers(data, mods))
    }),
  )
  store.add(
    term.onBinary((data) => {
      if (!deps.readOnly) deps.send(bytesOfBinaryString(data))
    }),
  )
  term.attachCustomKeyEventHandler((event) => {
    if (event.key === 'Enter' && event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
      if (event.type === 'keydown' && !deps.readOnly) deps.send('\n')
      event.preventDefault()
      return false
    }
    return true
  })
}

/**
 * Whether what the phone types may go out now: only while the terminal shows
 * the pane as it is (live, and the shown pane synced since the socket
 * opened) and the reader does not cover it. A key typed while the screen is
 * not current is not lost silently: the banner says keys are not sent, it
 * flashes and the phone buzzes; nothing is queued to land later in what may
 * be another program by then.
 */
export class InputGate {
  readonly banner = h('div', { class: 'offline-banner', 'data-testid': 'offline-banner', role: 'status', hidden: true }, 'Reconnecting… (keys are not sent)')
  private current = false
  private covered = false

  constructor(
    private readonly host: HTMLElement,
    /** The gate opened or closed: `current` says whether the screen is live. */
    private readonly changed: (open: boolean, current: boolean) => void,
  ) {}

  get isOpen(): boolean {
    return this.current && !this.covered
  }

  get isCurrent(): boolean {
    return this.current
  }

  /** Runs `send` if input may go out, else refuses it visibly. */
  pass(send: () => void): void {
    if (this.isOpen) return send()
    if (this.covered) return
    this.banner.dataset.flash = String(Date.now())
    navigator.vibrate?.(50)
  }

  /** The screen is current (the shown pane synced on a live socket), or no longer. */
  setCurrent(current: boolean): void {
    this.current = current
    this.banner.hidden = current
    if (current) delete this.host.dataset.offline
    else this.host.dataset.offline = ''
    this.changed(this.isOpen, current)
  }

  /** The reader covers the terminal (keys go to it), or no longer. */
  setCovered(covered: boolean): void {
    this.covered = covered
    this.changed(this.isOpen, this.current)
  }
}
