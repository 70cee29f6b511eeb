import { describe, expect, it } from 'vitest'
import type { StreamEvent } from '../events.js'
import { unseenIds } from './inbox.js'

const ev = (id: number, window?: number): StreamEvent => ({ id, type: 'notify', message: `m${id}`, ...(window === undefined ? {} : { tab: { session: 'work', window } }) })

describe('unseenIds', () => {
  it('marks as many of each tab’s newest events as its unseen count, whatever the order given', () => {
    const events = [ev(1, 0), ev(5, 0), ev(3, 0), ev(4, 1), ev(2, 1), ev(6)]
    const counts: Record<number, number> = { 0: 2, 1: 0 }
    expect([...unseenIds(events, (tab) => counts[tab.window] ?? 0)].sort()).toEqual([3, 5])
  })

  it('marks every event of a tab whose count is larger than the list', () => {
    expect([...unseenIds([ev(1, 0), ev(2, 0)], () => 999)].sort()).toEqual([1, 2])
  })
})
