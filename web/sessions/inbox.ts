import { ApiError, recentEvents, type Device } from '../api.js'
import { readOnlyBadge } from '../device-ui.js'
import { h } from '../dom.js'
import { eventFrom, type StreamEvent, type Tab, type UnseenEvents } from '../events.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import { ago, isUnreachable, offlineBanner, retryWithBackoff } from '../shell/offline.js'
import type { TerminalTarget } from '../terminal/socket.js'
import { repaintAges } from './ages.js'
import { messageOf } from './text.js'

/** Events the inbox keeps: as many as `GET /api/events/recent` lists (EVENT_STREAM_LIMITS.recentEvents). */
export const INBOX_EVENTS = 50

export interface InboxScreenOptions {
  device: Device
  /** The device's unseen events: which entries are new, and new events as they come. */
  unseen: Pick<UnseenEvents, 'badge' | 'onChange' | 'onEvent'>
  open(target: TerminalTarget): void
  back(): void
}

/** What an event says in its first line: its title, or what its type means. */
function headline(event: StreamEvent): string {
  if (event.title) return event.title
  const byType: Record<string, string> = { notify: 'Waiting for you', stop: 'Finished', error: 'Failed', custom: 'Note' }
  return byType[event.type] ?? event.type
}

/**
 * The ids of events not seen yet: per tab, as many of its newest events as
 * its unseen count (what its badge on the sessions list says). Pure.
 */
export function unseenIds(events: readonly StreamEvent[], countOf: (tab: Tab) => number): Set<number> {
  const ids = new Set<number>()
  const left = new Map<string, number>()
  for (const event of [...events].sort((a, b) => b.id - a.id)) {
    if (!event.tab) continue
    const key = JSON.stringify([event.tab.session, event.tab.window])
    const count = left.get(key) ?? countOf(event.tab)
    if (count > 0) ids.add(event.id)
    left.set(key, count - 1)
  }
  return ids
}

/** One event: headline, its tab and time, the message; a tap opens its tab (an event without one has nowhere to go). */
function inboxItem(event: StreamEvent, isNew: boolean): HTMLLIElement {
  const when = event.ts ? ago(Date.parse(event.ts), Date.now(), 'ms') : ''
  const where = event.tab ? `${event.tab.session}:${event.tab.window}` : ''
  const content = [
    h(
      'span',
      { class: 'inbox-head' },
      isNew ? h('span', { class: 'new-dot', 'aria-label': 'new' }) : '',
      h('span', { class: 'inbox-title' }, headline(event)),
      h('span', { class: 'meta' }, [where, when].filter(Boolean).join(' · ')),
    ),
    h('span', { class: 'inbox-message', 'data-testid': 'inbox-message' }, event.message),
  ]
  const attributes = { class: 'inbox-item', 'data-testid': 'inbox-item', 'data-id': event.id, 'data-new': isNew }
  const body = event.tab
    ? h('button', { type: 'button', ...attributes, 'data-session': event.tab.session, 'data-window': event.tab.window }, ...content)
    : h('div', attributes, ...content)
  return h('li', {}, body)
}

/**
 * The inbox: the newest events this phone may see, newest first, each with
 * its text, its tab and how long ago; a tap opens the tab. Fetched
 * (`GET /api/events/recent`), then kept current from the event stream;
 * events not seen yet are marked. Lives until disposed.
 */
export function mountInboxScreen(parent: HTMLElement, options: InboxScreenOptions): Disposable {
  const store = new DisposableStore()
  const back = h('button', { type: 'button', class: 'quiet back', 'data-testid': 'inbox-back' }, '‹ Sessions')
  const status = h('div', { class: 'offline-slot' })
  const list = h('ul', { class: 'inbox', 'data-testid': 'inbox', 'aria-live': 'polite' }, h('li', { class: 'empty' }, 'Loading…'))
  const screen = h(
    'section',
    { class: 'sessions-screen inbox-screen' },
    h('header', { class: 'app-bar' }, back, h('h1', {}, 'Inbox'), readOnlyBadge(options.device), h('span', { class: 'spacer' })),
    status,
    list,
  )
  parent.append(screen)
  store.defer(() => screen.remove())

  /** By id; undefined until the first answer. */
  let events: Map<number, StreamEvent> | undefined

  const render = (): void => {
    if (!events) return
    const newestFirst = [...events.values()].sort((a, b) => b.id - a.id)
    const fresh = unseenIds(newestFirst, (tab) => options.unseen.badge(tab).count)
    list.replaceChildren(
      ...(newestFirst.length === 0
        ? [h('li', { class: 'empty', 'data-testid': 'inbox-empty' }, 'Nothing yet. When a session needs you (Claude Code waiting, a build done), it shows here.')]
        : newestFirst.map((event) => inboxItem(event, fresh.has(event.id)))),
    )
  }

  const add = (incoming: Iterable<StreamEvent>): void => {
    events ??= new Map()
    for (const event of incoming) events.set(event.id, event)
    // The oldest go first: the inbox stays as long as the server's list.
    for (const id of [...events.keys()].sort((a, b) => a - b).slice(0, Math.max(0, events.size - INBOX_EVENTS))) events.delete(id)
    render()
  }

  // Events arriving while the first answer is on its way are kept, and merged by id.
  store.add(options.unseen.onEvent((event) => add([event])))
  store.add(options.unseen.onChange(render))
  store.add(
    retryWithBackoff(async () => {
      try {
        const answer = await recentEvents()
        status.replaceChildren()
        add(answer.map(eventFrom).filter((e): e is StreamEvent => e !== undefined))
        return true
      } catch (error) {
        if (isUnreachable(error)) {
          status.replaceChildren(offlineBanner())
          return false
        }
        // A refusal: signing out or expiry is handled by the app (api.ts); say anything else.
        if (!(error instanceof ApiError && (error.status === 401 || error.status === 403))) {
          list.replaceChildren(h('li', { class: 'error', role: 'alert' }, messageOf(error)))
        }
        return true
      }
    }),
  )
  store.listen(list, 'click', (event) => {
    const button = event.target instanceof Element ? event.target.closest<HTMLButtonElement>('button.inbox-item') : null
    const session = button?.dataset.session
    if (button && session !== undefined) options.open({ session, window: Number(button.dataset.window) })
  })
  store.listen(back, 'click', () => options.back())
  repaintAges(store, render)
  return store
}
