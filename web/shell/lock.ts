import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { describeFailure, signInWithPasskey } from '../passkey.js'

/** Minutes in the background before the app asks for the passkey again; 0 is off. */
export const LOCK_CHOICES = [0, 1, 5, 15, 60] as const
export type LockMinutes = (typeof LOCK_CHOICES)[number]

/** localStorage keys: this phone's setting, and when the app was last hidden (ms since the epoch). */
const SETTING_KEY = 'handoff.lockAfterMinutes'
const HIDDEN_AT_KEY = 'handoff.hiddenAt'

/**
 * The setting as stored. Any number of minutes is honoured (tests use a
 * fraction); a damaged value is off.
 */
export function lockAfterMinutes(): number {
  const raw = Number(safeGet(SETTING_KEY) ?? 0)
  return Number.isFinite(raw) && raw > 0 ? raw : 0
}

export function setLockAfterMinutes(minutes: LockMinutes): void {
  safeSet(SETTING_KEY, minutes === 0 ? undefined : String(minutes))
}

/** Pure: whether a phone hidden since `hiddenAt` must unlock at `now`. */
export function mustLock(minutes: number, hiddenAt: number | undefined, now: number): boolean {
  return minutes > 0 && hiddenAt !== undefined && now - hiddenAt >= minutes * 60_000
}

export interface ResumeLock extends Disposable {
  /** True while the lock screen is up. */
  readonly locked: boolean
}

/**
 * Lock on resume: when the page comes back after the chosen time in the
 * background (or the app is reopened after it), covers everything with a
 * lock screen until the passkey verifies the user again (the sign-in
 * ceremony; the server requires user verification). `app` is made inert
 * meanwhile, so nothing under the cover can be read or typed into.
 */
export function installResumeLock(app: HTMLElement): ResumeLock {
  const store = new DisposableStore()
  let cover: Disposable | undefined

  const check = () => {
    const hiddenAt = Number(safeGet(HIDDEN_AT_KEY) ?? NaN)
    if (!cover && mustLock(lockAfterMinutes(), Number.isFinite(hiddenAt) ? hiddenAt : undefined, Date.now())) lock()
    // Only the time since the last hide counts; while locked it stays, so a reload does not unlock.
    if (!cover) safeSet(HIDDEN_AT_KEY, undefined)
  }
  const lock = () => {
    app.inert = true
    app.setAttribute('aria-hidden', 'true')
    cover = mountLockScreen(document.body, () => {
      cover?.dispose()
      cover = undefined
      app.inert = false
      app.removeAttribute('aria-hidden')
      safeSet(HIDDEN_AT_KEY, undefined)
    })
  }
  const hidden = () => {
    if (!cover && safeGet(HIDDEN_AT_KEY) === undefined) safeSet(HIDDEN_AT_KEY, String(Date.now()))
  }

  store.listen(document, 'visibilitychange', () => (document.visibilityState === 'hidden' ? hidden() : check()))
  // pagehide covers a closed or discarded app, which never reports 'hidden' again.
  store.listen(window, 'pagehide', hidden)
  check()
  store.defer(() => cover?.dispose())
  return {
    get locked() {
      return cover !== undefined
    },
    dispose: () => store.dispose(),
  }
}

function mountLockScreen(parent: HTMLElement, unlocked: () => void): Disposable {
  const store = new DisposableStore()
  const button = h('button', { type: 'button', class: 'primary big', 'data-testid': 'unlock-button' }, 'Unlock with your passkey')
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'unlock-error' })
  const screen = h(
    'section',
    { class: 'lock-screen page-screen', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'lock-title', 'data-testid': 'lock-screen' },
    h('header', { class: 'app-bar' }, h('h1', { id: 'lock-title' }, 'Locked')),
    h(
      'div',
      { class: 'page-body' },
      h('p', {}, 'Handoff was in the background for a while. Confirm it is you to carry on.'),
      button,
      error,
    ),
  )
  parent.append(screen)
  store.defer(() => screen.remove())
  store.listen(button, 'click', async () => {
    button.disabled = true
    error.textContent = ''
    const result = await signInWithPasskey()
    if (store.isDisposed) return
    button.disabled = false
    if (result.ok) return unlocked()
    error.textContent = describeFailure(result)
  })
  button.focus()
  return store
}

function safeGet(key: string): string | undefined {
  try {
    return localStorage.getItem(key) ?? undefined
  } catch {
    return undefined
  }
}

function safeSet(key: string, value: string | undefined): void {
  try {
    if (value === undefined) localStorage.removeItem(key)
    else localStorage.setItem(key, value)
  } catch {
    // Storage disabled: the lock cannot remember, so it stays off.
  }
}
