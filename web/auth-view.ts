import { requestRenewal, type Device } from './api.js'
import { formatDate } from './device-ui.js'
import { h } from './dom.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { describeFailure, nameRequiredUrl, signInWithPasskey } from './passkey.js'

export interface SignInScreenOptions {
  /** Why sign-in is needed (signed out, token expired, access revoked…). */
  notice?: string | undefined
  /** Signed in: go on to where the user was going. */
  signedIn(): void
}

/**
 * "Sign in with your passkey". The ceremony starts on the button, never on
 * load: Safari only shows the passkey prompt after a tap.
 */
export function mountSignInScreen(parent: HTMLElement, options: SignInScreenOptions): Disposable {
  const store = new DisposableStore()
  const button = h('button', { type: 'button', class: 'primary big', 'data-testid': 'signin-button' }, 'Sign in with your passkey')
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'signin-error' })
  const localUrl = nameRequiredUrl()
  if (localUrl) {
    button.disabled = true
    error.textContent = `Passkeys need a name, not an IP address. Open ${localUrl} instead.`
  }
  const screen = page(
    'Handoff',
    options.notice ? h('p', { class: 'notice', role: 'status', 'data-testid': 'notice' }, options.notice) : '',
    h('p', {}, 'This phone signs in with the passkey it created when it was paired.'),
    button,
    error,
    h('p', { class: 'muted' }, 'Not paired yet? On your computer, run ', h('code', {}, 'handoff pair'), ' and scan its QR code.'),
  )
  parent.append(screen)
  store.defer(() => screen.remove())

  store.listen(button, 'click', async () => {
    button.disabled = true
    error.textContent = ''
    const result = await signInWithPasskey()
    if (store.isDisposed) return
    button.disabled = false
    if (result.ok) return options.signedIn()
    error.textContent =
      result.kind === 'server' && result.error.code === 'SIGN_IN_FAILED'
        ? 'This passkey is not (or no longer) paired with this computer. Pair the phone again with: handoff pair'
        : describeFailure(result)
  })
  return store
}

export interface ExpiredScreenOptions {
  device: Device
  /** Ask the server again (the owner may have renewed meanwhile). */
  checkAgain(): void
  signOut(): void
}

/** "Access expired": the only thing a soft-expired phone may do is ask for renewal. */
export function mountExpiredScreen(parent: HTMLElement, options: ExpiredScreenOptions): Disposable {
  const store = new DisposableStore()
  const { device } = options
  const action = h('div', { class: 'stack' })
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'renew-error' })
  const checkAgain = h('button', { type: 'button', 'data-testid': 'check-again' }, 'Check again')
  const signOut = h('button', { type: 'button', class: 'quiet', 'data-testid': 'signout' }, 'Sign out')
  const screen = page(
    'Access expired',
    h(
      'p',
      {},
      `This phone (${device.name}) had access`,
      device.expiresAt === null ? '' : ` until ${formatDate(device.expiresAt)}`,
      '. The computer’s owner can extend it.',
    ),
    action,
    error,
    h('div', { class: 'row' }, checkAgain, signOut),
  )
  parent.append(screen)
  store.defer(() => screen.remove())

  const showRequested = () =>
    action.replaceChildren(
      h(
        'p',
        { class: 'notice', role: 'status', 'data-testid': 'renew-requested' },
        'Renewal requested — approve it on the computer with: ',
        h('code', {}, `handoff devices renew ${shellQuote(device.name)}`),
      ),
    )
  if (device.renewalRequested) showRequested()
  else {
    const renew = h('button', { type: 'button', class: 'primary big', 'data-testid': 'renew-button' }, 'Ask for renewal')
    action.replaceChildren(renew)
    store.listen(renew, 'click', async () => {
      renew.disabled = true
      error.textContent = ''
      try {
        await requestRenewal()
        if (!store.isDisposed) showRequested()
      } catch (failure) {
        if (store.isDisposed) return
        renew.disabled = false
        error.textContent = failure instanceof Error ? failure.message : String(failure)
      }
    })
  }
  store.listen(checkAgain, 'click', () => options.checkAgain())
  store.listen(signOut, 'click', () => options.signOut())
  return store
}

/** The server could not be asked who we are (offline, server stopped). */
export function mountProblemScreen(parent: HTMLElement, message: string, retry: () => void): Disposable {
  const store = new DisposableStore()
  const button = h('button', { type: 'button', class: 'primary big', 'data-testid': 'retry' }, 'Try again')
  const screen = page('Handoff', h('p', { class: 'error', role: 'alert', 'data-testid': 'problem' }, message), button)
  parent.append(screen)
  store.defer(() => screen.remove())
  store.listen(button, 'click', () => retry())
  return store
}

function page(title: string, ...children: (Node | string)[]): HTMLElement {
  return h(
    'section',
    { class: 'page-screen' },
    h('header', { class: 'app-bar' }, h('h1', {}, title)),
    h('div', { class: 'page-body' }, ...children),
  )
}

/** Quotes a device name for a shell command line when it needs it. */
function shellQuote(name: string): string {
  return /^[A-Za-z0-9._@%+=:,/-]+$/.test(name) ? name : `'${name.replaceAll("'", `'\\''`)}'`
}
