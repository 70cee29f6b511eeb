import { describe, expect, it } from 'vitest'
import { ApiError } from '../api.js'
import { mustLock } from './lock.js'
import { ago, computerName, isUnreachable, windowLabel } from './offline.js'

describe('mustLock', () => {
  const minute = 60_000
  it('locks once the phone was hidden for the chosen minutes, not a millisecond earlier', () => {
    expect(mustLock(5, 0, 5 * minute - 1)).toBe(false)
    expect(mustLock(5, 0, 5 * minute)).toBe(true)
  })
  it('never locks when off or when the app was not hidden', () => {
    expect(mustLock(0, 0, 60 * minute)).toBe(false)
    expect(mustLock(5, undefined, 60 * minute)).toBe(false)
  })
})

describe('computerName', () => {
  it('shortens a MagicDNS name to the machine and keeps addresses whole', () => {
    expect(computerName('laptop.tail1234.ts.net')).toBe('laptop')
    expect(computerName('localhost')).toBe('localhost')
    expect(computerName('100.101.102.103')).toBe('100.101.102.103')
    expect(computerName('[fd7a:115c::1]')).toBe('[fd7a:115c::1]')
  })
})

describe('isUnreachable', () => {
  it('counts no answer and a proxy without Handoff behind it, not a refusal from Handoff', () => {
    expect(isUnreachable(new ApiError('NETWORK_ERROR', 0, ''))).toBe(true)
    expect(isUnreachable(new ApiError('HTTP_502', 502, ''))).toBe(true)
    expect(isUnreachable(new ApiError('AUDIT_UNAVAILABLE', 503, ''))).toBe(false)
    expect(isUnreachable(new ApiError('NOT_SIGNED_IN', 401, ''))).toBe(false)
    expect(isUnreachable(new Error('x'))).toBe(false)
  })
})

describe('ago', () => {
  const now = 1_000_000_000_000
  it('reads Unix seconds as tmux reports them', () => {
    expect(ago(now / 1000 - 10, now)).toBe('just now')
    expect(ago(now / 1000 - 4 * 60, now)).toBe('4 min ago')
    expect(ago(now / 1000 - 3 * 3600, now)).toBe('3 h ago')
    expect(ago(now / 1000 - 2 * 86_400, now)).toBe('2 d ago')
  })
  it('never says "in the future" for a clock slightly ahead', () => {
    expect(ago(now / 1000 + 30, now)).toBe('just now')
  })
})

describe('windowLabel', () => {
  it('prefers a title a program set, else the window name over tmux\'s default title (the host name)', () => {
    expect(windowLabel({ name: 'node', title: 'Claude Code' })).toBe('Claude Code')
    expect(windowLabel({ name: 'zsh', title: 'laptop' })).toBe('zsh')
    expect(windowLabel({ name: 'vim', title: 'vim' })).toBe('vim')
    expect(windowLabel({ name: '', title: 'laptop' })).toBe('laptop')
  })
})
