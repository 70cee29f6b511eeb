import { h } from '../dom.js'
import type { DisposableStore } from '../lifetime.js'
import { LOCK_CHOICES, lockAfterMinutes, setLockAfterMinutes, type LockMinutes } from '../shell/lock.js'

/** "Lock when away": this phone's lock-on-resume setting (web/shell/lock.ts). */
export function lockSetting(store: DisposableStore): HTMLElement {
  const current = lockAfterMinutes()
  const select = h('select', { 'data-testid': 'lock-setting', 'aria-label': 'Ask for the passkey after this long in the background' })
  for (const minutes of LOCK_CHOICES) {
    const option = h('option', { value: minutes }, minutes === 0 ? 'Off' : minutes === 60 ? 'After 1 hour away' : `After ${minutes} min away`)
    option.selected = minutes === current
    select.append(option)
  }
  store.listen(select, 'change', () => setLockAfterMinutes(Number(select.value) as LockMinutes))
  return h(
    'section',
    { class: 'settings' },
    h('label', { class: 'row' }, h('span', {}, 'Ask for the passkey'), select),
  )
}
