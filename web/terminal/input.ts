import type { Terminal } from '@xterm/xterm'
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
