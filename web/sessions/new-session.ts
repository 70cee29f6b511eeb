import { createSession } from '../api.js'
import { h } from '../dom.js'
import type { DisposableStore } from '../lifetime.js'
import { messageOf } from './text.js'

/** "New session": a name and a button; disabled, with a note, for a read-only phone. `created` runs with the new session's name. */
export function newSessionForm(store: DisposableStore, readOnly: boolean, created: (name: string) => void): HTMLFormElement {
  const input = h('input', {
    name: 'name',
    required: true,
    maxlength: 64,
    pattern: '[A-Za-z0-9_\\-]{1,64}',
    placeholder: 'new-session',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    'aria-label': 'New session name',
    'data-testid': 'new-session-name',
  })
  const submit = h('button', { type: 'submit', 'data-testid': 'new-session-submit' }, 'New session')
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'new-session-error' })
  // The server refuses creation for a read-only phone anyway; say so up front.
  const fields = h('fieldset', { class: 'row', disabled: readOnly }, input, submit)
  const note = readOnly ? h('p', { class: 'muted' }, 'This phone is read-only: it can watch sessions but not create or end them.') : ''
  const form = h('form', { class: 'new-session', 'data-testid': 'new-session' }, fields, note, error)

  store.listen(form, 'submit', async (event) => {
    event.preventDefault()
    error.textContent = ''
    submit.disabled = true
    try {
      const session = await createSession(input.value.trim())
      input.value = ''
      created(session.name)
    } catch (failure) {
      error.textContent = messageOf(failure)
    } finally {
      submit.disabled = false
    }
  })
  return form
}
