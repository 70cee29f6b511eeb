import { ApiError, pairingGrant, pairingStatus, type PairingGrant } from './api.js'
import { formatDate } from './device-ui.js'
import { h } from './dom.js'
import { DisposableStore, type Disposable } from './lifetime.js'
import { createPasskey, describeFailure, nameRequiredUrl, signInWithPasskey } from './passkey.js'

/** How often the page asks whether the code was typed into `handoff pair`. */
export const PAIR_STATUS_POLL_MS = 1_000

export interface PairScreenOptions {
  /** Paired and signed in: show the sessions list. */
  done(): void
  /** Paired, but the automatic sign-in did not finish: show the sign-in screen with `message`. */
  signIn(message: string): void
}

/**
 * Takes the one-time pairing secret out of the address bar (`/pair#SECRET`)
 * and returns it. The fragment is never sent to the server, and replacing
 * the entry keeps it out of history, bookmarks and screenshots of the URL;
 * callers keep it in a local variable only.
 */
export function takePairingSecret(): string {
  const secret = location.hash.slice(1)
  if (location.hash || location.pathname !== '/pair') history.replaceState(null, '', '/pair')
  return secret
}

const RUN_PAIR_AGAIN = 'Run handoff pair on your computer again to get a new link.'
const ENDED = {
  missing: `This page needs the link handoff pair shows. ${RUN_PAIR_AGAIN}`,
  invalid: `This pairing link has expired or was already used. ${RUN_PAIR_AGAIN}`,
  damaged: `This pairing link is incomplete (cut off when copied?). Open the link handoff pair printed, or scan its QR code again.`,
  cancelled: `The pairing was cancelled on the computer (a wrong code typed three times, Ctrl-C, or the 5 minutes ran out). ${RUN_PAIR_AGAIN}`,
  burned: 'This pairing link was used twice and has been cancelled. Run handoff pair again.',
} as const

/**
 * The page a pairing link opens: shows what the phone is being granted,
 * creates its passkey, shows the code to type into `handoff pair`, waits for
 * the computer to confirm, then signs in. `secret` comes from
 * `takePairingSecret()` and lives only in this closure.
 */
export function mountPairScreen(parent: HTMLElement, secret: string, options: PairScreenOptions): Disposable {
  const store = new DisposableStore()
  const body = h('div', { class: 'page-body', 'aria-live': 'polite' })
  const screen = h('section', { class: 'page-screen' }, h('header', { class: 'app-bar' }, h('h1', {}, 'Pair this phone')), body)
  parent.append(screen)
  store.defer(() => screen.remove())

  /** Replaces what the page shows; a screen that has been left stays left. */
  const show = (...children: (Node | string)[]) => {
    if (!store.isDisposed) body.replaceChildren(...children)
  }
  const ended = (message: string) => show(h('p', { class: 'notice', role: 'alert', 'data-testid': 'pair-ended' }, message))

  const localUrl = nameRequiredUrl()
  if (localUrl) {
    ended(`Passkeys need a name, not an IP address. Open the pairing link at ${localUrl} instead: the same link, with the address replaced by localhost.`)
    return store
  }
  if (!secret) {
    ended(ENDED.missing)
    return store
  }

  void start()
  return store

  async function start(): Promise<void> {
    show(h('p', { class: 'muted' }, 'Checking the pairing link…'))
    let grant: PairingGrant
    try {
      grant = await pairingGrant(secret)
    } catch (error) {
      // The secret is the only field: a malformed body means a mangled link.
      if (error instanceof ApiError && error.code === 'BAD_REQUEST') return ended(ENDED.damaged)
      return failed(error)
    }
    showGrant(grant)
  }

  function showGrant(grant: PairingGrant): void {
    const create = h('button', { type: 'button', class: 'primary big', 'data-testid': 'pair-create' }, 'Create passkey')
    const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'pair-error' })
    show(
      h('p', {}, 'Your computer offers this phone access to its tmux sessions:'),
      grantList(grant),
      h('p', { class: 'muted' }, 'A passkey on this phone will be its key. It never leaves the phone.'),
      create,
      error,
    )
    store.listen(create, 'click', async () => {
      create.disabled = true
      error.textContent = ''
      const result = await createPasskey(secret)
      if (store.isDisposed) return
      create.disabled = false
      if (result.ok) return showCode(result.value)
      if (result.kind === 'server') return failed(result.error, error)
      error.textContent = describeFailure(result)
    })
  }

  function showCode(code: string): void {
    const status = h('p', { class: 'muted', 'data-testid': 'pair-status' }, 'Waiting for the code to be typed…')
    show(
      h('p', { class: 'lead' }, 'Type this code in your terminal'),
      h('p', { class: 'pair-code', 'data-testid': 'pair-code', 'aria-label': `Code ${code.split('').join(' ')}` }, code),
      status,
    )
    const poll = async (): Promise<void> => {
      let state
      try {
        state = await pairingStatus(secret)
      } catch (error) {
        if (store.isDisposed) return
        if (error instanceof ApiError && error.code === 'NETWORK_ERROR') {
          status.textContent = 'Lost the connection to the computer; still trying…'
          store.timeout(() => void poll(), PAIR_STATUS_POLL_MS)
          return
        }
        // The pairing is gone: three wrong codes, Ctrl-C or the timeout removed it.
        return failed(error, undefined, ENDED.cancelled)
      }
      if (store.isDisposed) return
      if (state === 'confirmed') return void signIn()
      if (state === 'burned') return ended(ENDED.burned)
      store.timeout(() => void poll(), PAIR_STATUS_POLL_MS)
    }
    store.timeout(() => void poll(), PAIR_STATUS_POLL_MS)
  }

  async function signIn(): Promise<void> {
    show(h('p', { class: 'lead', 'data-testid': 'pair-confirmed' }, 'Confirmed. Signing in…'))
    const result = await signInWithPasskey()
    if (store.isDisposed) return
    if (result.ok) options.done()
    else options.signIn(`This phone is paired. ${describeFailure(result)}`)
  }

  /**
   * Shows why a request failed: the link's end for pairing codes, otherwise
   * the server's message in `inline` (the user may try again) or as the page.
   */
  function failed(error: unknown, inline?: HTMLElement, gone: string = ENDED.invalid): void {
    if (store.isDisposed) return
    const code = error instanceof ApiError ? error.code : ''
    if (code === 'PAIRING_BURNED') return ended(ENDED.burned)
    if (code === 'PAIRING_INVALID') return ended(gone)
    const message = error instanceof Error ? error.message : String(error)
    if (inline) inline.textContent = message
    else {
      const retry = h('button', { type: 'button', 'data-testid': 'pair-retry' }, 'Try again')
      store.listen(retry, 'click', () => void start())
      show(h('p', { class: 'error', role: 'alert', 'data-testid': 'pair-error' }, message), retry)
    }
  }
}

/** The grant in plain words: which sessions, how much control, until when. */
function grantList(grant: PairingGrant): HTMLElement {
  const patterns = grant.sessions
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
  const everything = patterns.length === 0 || patterns.includes('*')
  const sessions = everything
    ? h('dd', {}, 'All tmux sessions, including ones created later')
    : h(
        'dd',
        {},
        ...patterns.flatMap((p, i) => [...(i > 0 ? [', '] : []), h('code', {}, p)]),
        ...(patterns.some((p) => /[*?]/.test(p)) ? [h('span', { class: 'muted hint' }, ' (* matches any characters)')] : []),
      )
  const item = (term: string, detail: HTMLElement) => h('div', { class: 'grant-item' }, h('dt', {}, term), detail)
  return h(
    'dl',
    { class: 'grant', 'data-testid': 'pair-grant' },
    item('Sessions', sessions),
    item(
      'Control',
      h(
        'dd',
        { 'data-readonly': grant.readOnly },
        grant.readOnly
          ? 'Read-only: can watch, cannot type, create or close anything'
          : 'Full control: can type, and create and close sessions and windows',
      ),
    ),
    item('Access until', h('dd', {}, grant.expiresAt === null ? 'Never expires' : formatDate(grant.expiresAt))),
    ...(grant.name ? [item('Name', h('dd', {}, grant.name))] : []),
  )
}
