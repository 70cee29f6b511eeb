import type { Device } from './api.js'
import { h } from './dom.js'

/** A date and time in the phone's own locale and time zone. */
export function formatDate(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

/** The header badge of a read-only phone (nothing for a read-write one). */
export function readOnlyBadge(device: Device): HTMLElement | string {
  return device.readOnly
    ? h(
        'span',
        { class: 'badge readonly', 'data-testid': 'readonly-badge', title: 'This phone can watch but not type or change anything' },
        'read-only',
      )
    : ''
}
