import { ApiError, sendTestPush } from '../api.js'
import { h } from '../dom.js'
import type { DisposableStore } from '../lifetime.js'
import { askPermission, readPushState, turnOffPush, turnOnPush, WorkerMissingError, type PushState } from '../notifications.js'
import { isUnreachable } from '../shell/offline.js'

/** What the switch shows for a state. */
export interface SwitchView {
  on: boolean
  /** Whether a tap can change anything (not when the browser forbids it). */
  usable: boolean
  /** The state in one sentence a person understands. */
  sentence: string
}

/** The switch for each state: on or off, usable or not, and what it means. Pure. */
export function switchView(state: PushState): SwitchView {
  switch (state.kind) {
    case 'unsupported':
      return {
        on: false,
        usable: false,
        sentence: 'This browser cannot show notifications from Handoff. On an iPhone, add Handoff to the home screen first (Share, then Add to Home Screen).',
      }
    case 'insecure':
      return { on: false, usable: false, sentence: 'Notifications need Handoff over https: open it at its tailnet address.' }
    case 'blocked':
      return {
        on: false,
        usable: false,
        sentence: 'Blocked: this browser does not allow notifications from Handoff. Allow them in the site settings, then come back.',
      }
    case 'off':
      return { on: false, usable: true, sentence: 'Off: this phone is not told when a session needs you.' }
    case 'lost':
      return {
        on: false,
        usable: true,
        sentence: 'Off: the computer no longer sends to this phone (turned off there, or its keys changed). Turn on again to fix it.',
      }
    case 'on':
      return {
        on: true,
        usable: true,
        sentence: state.private
          ? 'On, private: this phone is told when a session needs you; the lock screen shows the title, never the message.'
          : 'On: this phone is told when a session needs you, even with Handoff closed.',
      }
  }
}

/** Why turning notifications on or off failed, as the end of a sentence. Pure. */
export function failureReason(error: unknown): string {
  if (error instanceof WorkerMissingError) return 'the app is still installing. Reload the page and try again.'
  if (isUnreachable(error)) return 'the computer could not be reached.'
  if (error instanceof ApiError) return error.message
  // Chromium says this as an AbortError whose message names the permission; the standard says NotAllowedError.
  if (error instanceof DOMException && (error.name === 'NotAllowedError' || /permission denied/i.test(error.message))) {
    return 'this browser does not let Handoff receive push messages here (a private window cannot).'
  }
  if (error instanceof DOMException && (error.name === 'AbortError' || error.name === 'NetworkError')) {
    return 'the browser could not reach its push service. Check the connection and try again.'
  }
  return 'the browser refused without saying why. Reload the page and try again.'
}

/** States a note after an action cannot explain better than the state itself. */
const OVERRIDING: readonly PushState['kind'][] = ['unsupported', 'insecure', 'blocked']

/**
 * The "Notifications" switch of the sessions screen, showing the real state
 * (the browser's permission and subscription, and the computer's record) in
 * a sentence. A tap asks for permission (browsers allow that only on a tap),
 * subscribes and tells the computer; a failure leaves the switch as things
 * really are and says why. Also "private notifications" (title only) and a
 * test notification. The state is read again when the permission changes
 * and when the app comes back to the front.
 */
export function notificationsSwitch(store: DisposableStore): HTMLElement {
  const toggle = h('input', { type: 'checkbox', role: 'switch', 'data-testid': 'notifications-switch', disabled: true })
  const privacy = h('input', { type: 'checkbox', 'data-testid': 'notifications-private', disabled: true })
  const test = h('button', { type: 'button', class: 'quiet', 'data-testid': 'notifications-test', disabled: true }, 'Send a test notification')
  const sentence = h('p', { class: 'muted', role: 'status', 'data-testid': 'notifications-state' }, 'Checking notifications…')
  const panel = h(
    'section',
    { class: 'notifications', 'data-testid': 'notifications' },
    h('label', { class: 'row' }, toggle, ' Notifications'),
    h('label', { class: 'row' }, privacy, ' Private notifications (title only, no message)'),
    test,
    sentence,
  )
  let busy = false

  const render = (state: PushState, note?: string): void => {
    const view = switchView(state)
    toggle.checked = view.on
    toggle.disabled = !view.usable
    privacy.checked = state.kind === 'on' && state.private
    privacy.disabled = state.kind !== 'on'
    test.disabled = state.kind !== 'on'
    sentence.textContent = note !== undefined && !OVERRIDING.includes(state.kind) ? note : view.sentence
    panel.dataset.state = state.kind
  }

  /** Reads the real state and shows it, with `note` (what just happened) in place of its sentence. */
  const refresh = async (note?: string): Promise<void> => {
    if (busy) return
    try {
      const state = await readPushState()
      if (!busy) render(state, note)
    } catch (error) {
      if (!busy) render({ kind: 'off' }, note ?? `Could not check notifications: ${failureReason(error)}`)
    }
  }

  /** Runs one action with the controls held still, then shows where it left things. */
  const act = async (progress: string, task: () => Promise<string | undefined>, failure: string): Promise<void> => {
    if (busy) return
    busy = true
    for (const control of [toggle, privacy, test]) control.disabled = true
    sentence.textContent = progress
    let note: string | undefined
    try {
      note = await task()
    } catch (error) {
      note = `${failure}: ${failureReason(error)}`
    }
    busy = false
    await refresh(note)
  }

  store.listen(toggle, 'change', () => {
    if (!toggle.checked) return void act('Turning off…', async () => void (await turnOffPush()), 'Could not turn notifications off')
    // Asked within the tap itself: browsers ignore a permission request made later.
    const permission = Notification.permission === 'granted' ? Promise.resolve<NotificationPermission>('granted') : askPermission()
    void act(
      'Turning on…',
      async () => {
        const answer = await permission
        if (answer === 'default') return 'Not turned on: notifications were not allowed. Tap the switch to be asked again.'
        // Denied: the state (blocked) says what to do.
        if (answer === 'granted') await turnOnPush(privacy.checked)
        return undefined
      },
      'Could not turn notifications on',
    )
  })
  store.listen(privacy, 'change', () => {
    void act('Saving…', async () => void (await turnOnPush(privacy.checked)), 'Could not change private notifications')
  })
  store.listen(test, 'click', () => {
    void act(
      'Sending a test notification…',
      async () => {
        await sendTestPush()
        return 'Test notification sent: it should arrive within a few seconds.'
      },
      'Could not send a test notification',
    )
  })
  // Allowed or blocked in the browser's settings while the app is open, or on the way back to it.
  void navigator.permissions
    ?.query({ name: 'notifications' })
    .then((status) => store.listen(status, 'change', () => void refresh()))
    .catch(() => {})
  store.listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'visible') void refresh()
  })
  void refresh()
  return panel
}
