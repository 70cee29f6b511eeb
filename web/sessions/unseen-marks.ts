import { h } from '../dom.js'
import type { UnseenBadge } from '../events.js'

// How unseen events show on a session, a window or a window's chip in the
// terminal's strip: the count as a badge, and the newest event's text
// beside it, as plain text (it comes from whatever ran `handoff notify`).

/** The count of unseen events as a badge; nothing when there are none. */
export function unseenCount(badge: UnseenBadge): HTMLElement | '' {
  return badge.count > 0 ? h('span', { class: 'badge unseen', 'data-testid': 'unseen', 'aria-hidden': 'true' }, String(badge.count)) : ''
}

/** The newest unseen event's text on one line (all of it as the tooltip); nothing when there is none. */
export function unseenText(badge: UnseenBadge): HTMLElement | '' {
  return badge.count > 0 && badge.latest
    ? h('span', { class: 'unseen-text', 'data-testid': 'unseen-text', title: badge.latest, 'aria-hidden': 'true' }, badge.latest)
    : ''
}

/** The same for a screen reader, to end a button's label: ", 2 new: Claude needs your permission". */
export function unseenLabel(badge: UnseenBadge): string {
  if (badge.count === 0) return ''
  return `, ${badge.count} new${badge.latest ? `: ${badge.latest}` : ''}`
}
