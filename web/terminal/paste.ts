import { h } from '../dom.js'
import type { DisposableStore } from '../lifetime.js'

/**
 * Safe paste: text that contains a line break would run commands the moment
 * it reaches a shell, so it is shown first and sent only when confirmed.
 */
export function pasteNeedsConfirmation(text: string): boolean {
  return /[\r\n\u2028\u2029\x85]/.test(text)
}

/** What the preview dialog says about a paste: its line count, and whether control characters hide in it. */
export function describePaste(text: string): { lines: number; controls: boolean } {
  const lines = text.replace(/(\r\n|\r|\n)$/, '').split(/\r\n|\r|\n/).length
  // ESC and other C0 bytes (but tab and line breaks) can drive the terminal; worth a warning.
  const controls = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text)
  return { lines, controls }
}

/**
 * Shows `text` in a modal preview; resolves true when the user chooses to
 * paste it. The preview is a text node: nothing in the paste is interpreted.
 */
export function confirmPaste(parent: HTMLElement, text: string): Promise<boolean> {
  const { lines, controls } = describePaste(text)
  const preview = h('pre', { class: 'paste-preview', 'data-testid': 'paste-preview' })
  preview.textContent = text
  const cancel = h('button', { type: 'button', 'data-testid': 'paste-cancel' }, 'Cancel')
  const ok = h('button', { type: 'button', class: 'primary', 'data-testid': 'paste-confirm' }, `Paste ${lines} line${lines === 1 ? '' : 's'}`)
  const dialog = h(
    'dialog',
    { class: 'paste-dialog', 'data-testid': 'paste-dialog', 'aria-label': 'Paste preview' },
    h('p', {}, `This paste has ${lines} line${lines === 1 ? '' : 's'}; each line break runs what comes before it.`),
    controls ? h('p', { class: 'error' }, 'It also contains control characters.') : '',
    preview,
    h('div', { class: 'row' }, cancel, ok),
  )
  parent.append(dialog)
  dialog.showModal()
  cancel.focus()
  return new Promise((resolve) => {
    const finish = (answer: boolean) => {
      dialog.close()
      dialog.remove()
      resolve(answer)
    }
    cancel.addEventListener('click', () => finish(false))
    ok.addEventListener('click', () => finish(true))
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault()
      finish(false)
    })
  })
}

export interface SafePasteDeps {
  /** Where the preview dialog goes. */
  screen: HTMLElement
  /** Sends the text as a paste (through tmux, which brackets it when the program asked). */
  send(text: string): void
  /** Back to the terminal, keyboard up. */
  focus(): void
  isDisposed(): boolean
}

/**
 * Every paste into `host` goes through here, before xterm's own listener:
 * text with a line break is previewed first. Returns the same paste for the
 * menu's Paste button. A read-only phone pastes nothing.
 */
export function safePaste(store: DisposableStore, host: HTMLElement, readOnly: boolean, deps: SafePasteDeps): (text: string) => void {
  const paste = (text: string) => {
    if (readOnly || !text) return
    const send = () => {
      deps.send(text)
      deps.focus()
    }
    if (!pasteNeedsConfirmation(text)) return send()
    void confirmPaste(deps.screen, text).then((ok) => {
      if (ok && !deps.isDisposed()) send()
    })
  }
  const onPasteEvent = (event: Event) => {
    const text = (event as ClipboardEvent).clipboardData?.getData('text/plain') ?? ''
    event.preventDefault()
    event.stopImmediatePropagation()
    paste(text)
  }
  host.addEventListener('paste', onPasteEvent, true)
  store.defer(() => host.removeEventListener('paste', onPasteEvent, true))
  return paste
}
