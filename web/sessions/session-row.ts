import type { Session } from '../api.js'
import { h } from '../dom.js'
import { ago } from '../shell/offline.js'
import { plural } from './text.js'
import { unseenCount, unseenLabel, unseenText } from './unseen-marks.js'
import { windowsPanel, type RowContext, type WindowsPanel } from './window-row.js'

/**
 * One session: name, unseen events of all its windows (with the newest
 * one's text), whether the desktop is attached, window count and last
 * activity; a tap expands it. `panel` is what shows under it when expanded.
 */
export function sessionRow(session: Session, panel: WindowsPanel | undefined, context: RowContext): HTMLLIElement {
  const unseen = context.badge({ session: session.name })
  const attached = session.attached > 0
  const meta = `${plural(session.windows, 'window')} · ${ago(session.activity)}`
  const button = h(
    'button',
    {
      type: 'button',
      class: 'session',
      'data-session': session.name,
      'data-testid': `session-${session.name}`,
      'aria-expanded': panel === undefined ? 'false' : 'true',
      'aria-label': `${session.name}: ${meta}${attached ? ', attached on the computer' : ''}${unseenLabel(unseen)}`,
    },
    h('span', { class: 'name' }, session.name),
    unseenCount(unseen),
    attached ? h('span', { class: 'badge', title: 'A tmux client (the computer) is on it' }, 'attached') : '',
    h('span', { class: 'meta' }, meta),
    // Last, on a line of its own: what happened deserves the row's whole width.
    unseenText(unseen),
  )
  const item = h('li', { 'data-session': session.name }, button)
  if (panel !== undefined) item.append(windowsPanel(session, panel, context))
  return item
}
