import type { Session, TmuxWindow } from '../api.js'
import { h } from '../dom.js'
import type { UnseenBadge, UnseenQuery } from '../events.js'
import { ago, windowLabel } from '../shell/offline.js'
import { lastFolder, messageOf } from './text.js'
import { unseenCount, unseenLabel, unseenText } from './unseen-marks.js'

/** What a row needs to know besides its own data. */
export interface RowContext {
  /** A read-only phone gets no control that changes anything. */
  readOnly: boolean
  /** Unseen events of a session or one of its windows. */
  badge(query: UnseenQuery): UnseenBadge
}

/** What an expanded session shows under it: its windows, why they could not be fetched, or that they are on the way. */
export type WindowsPanel = { windows: readonly TmuxWindow[] } | { error: unknown } | 'loading'

/** An expanded session's windows, then (read-write phones) "+ New window" and "Kill session…". */
export function windowsPanel(session: Session, panel: WindowsPanel, context: RowContext): HTMLElement {
  const list = h('ul', { class: 'windows', 'data-testid': 'windows' })
  if (panel === 'loading') {
    list.append(h('li', { class: 'empty' }, 'Loading…'))
    return list
  }
  if ('error' in panel) list.append(h('li', { class: 'error', role: 'alert' }, messageOf(panel.error)))
  else list.append(...panel.windows.map((w) => windowRow(session.name, w, context)))
  if (!context.readOnly) {
    list.append(
      h(
        'li',
        { class: 'session-actions' },
        h('button', { type: 'button', class: 'quiet', 'data-action': 'new-window', 'data-session': session.name, 'data-testid': 'new-window' }, '+ New window'),
        h(
          'button',
          { type: 'button', class: 'quiet danger', 'data-action': 'kill-session', 'data-session': session.name, 'data-testid': 'kill-session' },
          'Kill session…',
        ),
      ),
    )
  }
  return list
}

/**
 * One window: index, label (pane title or name), command, folder and last
 * activity, its unseen events with the newest one's text; a tap opens it.
 * A read-write phone also gets × to kill it.
 */
function windowRow(session: string, window: TmuxWindow, context: RowContext): HTMLLIElement {
  const unseen = context.badge({ session, window: window.index })
  const button = h(
    'button',
    {
      type: 'button',
      class: 'window',
      'data-testid': `window-${window.index}`,
      'data-session': session,
      'data-window': window.index,
      'data-active': window.active,
      'aria-label': `Open window ${window.index}: ${windowLabel(window)}${unseenLabel(unseen)}`,
    },
    h('span', { class: 'index' }, String(window.index)),
    h(
      'span',
      { class: 'label' },
      h('span', { class: 'name' }, windowLabel(window)),
      h('span', { class: 'meta' }, [window.command, lastFolder(window.path), ago(window.activity)].filter(Boolean).join(' · ')),
      unseenText(unseen),
    ),
    unseenCount(unseen),
  )
  const kill = context.readOnly
    ? ''
    : h(
        'button',
        {
          type: 'button',
          class: 'kill',
          'data-action': 'kill-window',
          'data-session': session,
          'data-window': window.index,
          'data-testid': `kill-window-${window.index}`,
          'aria-label': `Kill window ${window.index}`,
        },
        '×',
      )
  return h('li', { class: 'window-row' }, button, kill)
}
