import { h } from '../dom.js'
import type { DisposableStore } from '../lifetime.js'

/** Asks a yes-or-no question; resolves true for the destructive answer. */
export type Ask = (title: string, body: string, action: string) => Promise<boolean>

/** A modal question with Cancel and one destructive answer; never `confirm()`, which installed apps may not show. */
export function confirmDialog(store: DisposableStore): { element: HTMLDialogElement; ask: Ask } {
  const title = h('h2', { id: 'confirm-title' })
  const body = h('p', {})
  const cancel = h('button', { type: 'button', value: 'cancel', 'data-testid': 'confirm-cancel' }, 'Cancel')
  const yes = h('button', { type: 'button', value: 'yes', class: 'danger-fill', 'data-testid': 'confirm-yes' }, 'Kill')
  const element = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'confirm-title', 'data-testid': 'confirm-dialog' },
    title,
    body,
    h('div', { class: 'row' }, cancel, yes),
  )
  let answer: ((yes: boolean) => void) | undefined
  const settle = (value: boolean) => {
    const done = answer
    answer = undefined
    if (element.open) element.close()
    done?.(value)
  }
  store.listen(cancel, 'click', () => settle(false))
  store.listen(yes, 'click', () => settle(true))
  // Escape, or the system back gesture on Android, closes it: a no.
  store.listen(element, 'close', () => settle(false))
  store.defer(() => settle(false))
  return {
    element,
    ask(text, detail, action) {
      settle(false)
      title.textContent = text
      body.textContent = detail
      yes.textContent = action
      element.showModal()
      cancel.focus()
      return new Promise((resolve) => (answer = resolve))
    },
  }
}
