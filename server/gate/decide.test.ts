import { describe, it, expect, vi, afterEach } from 'vitest'
import {
  ACTIONS,
  decide,
  deviceState,
  EXPIRY_GRACE_MS,
  parseSessionPatterns,
  visibleSessions,
  type Action,
  type DenyCode,
  type Grant,
  type Verdict,
} from './index.js'

const EXPIRES = Date.UTC(2030, 0, 1) // a fixed instant: tests never read the clock
const HOUR = 60 * 60 * 1000

function grant(over: Partial<Grant> = {}): Grant {
  return {
    id: 'dev_1',
    name: 'Pixel',
    status: 'active',
    sessions: parseSessionPatterns('work-*'),
    readOnly: false,
    expiresAt: EXPIRES,
    ...over,
  }
}

/** `rw`/`ro`: allowed, read-write or read-only; otherwise the deny code. */
type Outcome = 'rw' | 'ro' | DenyCode
/** Outcome with no session, with an allowed one (`work-api`), with a forbidden one (`main`). */
type Row = readonly [none: Outcome, allowed: Outcome, forbidden: Outcome]
type Table = Readonly<Record<Action, Row>>

const U = 'DEVICE_UNKNOWN'
const X = 'DEVICE_EXPIRED'
const R = 'READ_ONLY'
const S = 'SESSION_NOT_ALLOWED'
const T = 'BAD_TARGET'

const UNKNOWN: Table = {
  list: [U, U, U],
  windows: [U, U, U],
  attach: [U, U, U],
  input: [U, U, U],
  'create-session': [U, U, U],
  'create-window': [U, U, U],
  'kill-session': [U, U, U],
  'kill-window': [U, U, U],
  renew: [U, U, U],
  'subscribe-events': [U, U, U],
}

const READ_WRITE: Table = {
  list: ['rw', 'rw', S],
  windows: [T, 'rw', S],
  attach: [T, 'rw', S],
  input: [T, 'rw', S],
  'create-session': [T, 'rw', S],
  'create-window': [T, 'rw', S],
  'kill-session': [T, 'rw', S],
  'kill-window': [T, 'rw', S],
  renew: ['rw', T, T],
  'subscribe-events': ['rw', 'rw', S],
}

const READ_ONLY: Table = {
  list: ['ro', 'ro', S],
  windows: [T, 'ro', S],
  attach: [T, 'ro', S],
  input: [T, R, R],
  'create-session': [T, R, R],
  'create-window': [T, R, R],
  'kill-session': [T, R, R],
  'kill-window': [T, R, R],
  renew: ['ro', T, T],
  'subscribe-events': ['ro', 'ro', S],
}

const SOFT_RW: Table = {
  list: [X, X, X],
  windows: [X, X, X],
  attach: [X, X, X],
  input: [X, X, X],
  'create-session': [X, X, X],
  'create-window': [X, X, X],
  'kill-session': [X, X, X],
  'kill-window': [X, X, X],
  renew: ['rw', T, T],
  'subscribe-events': [X, X, X],
}

const SOFT_RO: Table = { ...SOFT_RW, renew: ['ro', T, T] }

const HARD: Table = {
  list: [X, X, X],
  windows: [X, X, X],
  attach: [X, X, X],
  input: [X, X, X],
  'create-session': [X, X, X],
  'create-window': [X, X, X],
  'kill-session': [X, X, X],
  'kill-window': [X, X, X],
  renew: [X, X, X],
  'subscribe-events': [X, X, X],
}

const GRACE_END = EXPIRES + EXPIRY_GRACE_MS

/** Every device state: [label, device, now, expected table]. */
const STATES: readonly (readonly [string, Grant | undefined, number, Table])[] = [
  ['unknown (no record)', undefined, EXPIRES - HOUR, UNKNOWN],
  ['pending', grant({ status: 'pending' }), EXPIRES - HOUR, UNKNOWN],
  ['pending, never expiring', grant({ status: 'pending', expiresAt: null }), EXPIRES - HOUR, UNKNOWN],
  ['revoked', grant({ status: 'revoked' }), EXPIRES - HOUR, UNKNOWN],
  ['revoked, read-only, soft-expired', grant({ status: 'revoked', readOnly: true }), EXPIRES + HOUR, UNKNOWN],
  ['revoked, hard-expired', grant({ status: 'revoked' }), GRACE_END + HOUR, UNKNOWN],
  ['active read-write', grant(), EXPIRES - HOUR, READ_WRITE],
  ['active read-write, 1 ms before expiry', grant(), EXPIRES - 1, READ_WRITE],
  ['active read-only', grant({ readOnly: true }), EXPIRES - HOUR, READ_ONLY],
  ['never-expiring read-write', grant({ expiresAt: null }), GRACE_END * 10, READ_WRITE],
  ['never-expiring read-only', grant({ expiresAt: null, readOnly: true }), GRACE_END * 10, READ_ONLY],
  ['soft-expired exactly at expiresAt', grant(), EXPIRES, SOFT_RW],
  ['soft-expired, 1 ms after expiresAt', grant(), EXPIRES + 1, SOFT_RW],
  ['soft-expired read-only', grant({ readOnly: true }), EXPIRES + HOUR, SOFT_RO],
  ['soft-expired, 1 ms before 48 h', grant(), GRACE_END - 1, SOFT_RW],
  ['hard-expired exactly at 48 h', grant(), GRACE_END, HARD],
  ['hard-expired, 1 ms after 48 h', grant(), GRACE_END + 1, HARD],
  ['hard-expired read-only', grant({ readOnly: true }), GRACE_END + HOUR, HARD],
]

const SESSIONS = [
  ['no session', undefined],
  ['allowed session', 'work-api'],
  ['forbidden session', 'main'],
] as const

function outcome(v: Verdict): Outcome {
  if (!v.ok) return v.code
  return v.readOnly ? 'ro' : 'rw'
}

describe('decide: every action against every device state', () => {
  it('the table covers every action', () => {
    expect([...ACTIONS].sort()).toEqual(
      [
        'attach',
        'create-session',
        'create-window',
        'input',
        'kill-session',
        'kill-window',
        'list',
        'renew',
        'subscribe-events',
        'windows',
      ].sort(),
    )
    for (const [, , , table] of STATES) expect(Object.keys(table).sort()).toEqual([...ACTIONS].sort())
  })

  const cases = STATES.flatMap(([label, device, now, table]) =>
    ACTIONS.flatMap((action) =>
      SESSIONS.map(([sessionLabel, session], i) => ({
        name: `${label} · ${action} · ${sessionLabel}`,
        device,
        now,
        action,
        session,
        expected: table[action][i]!,
      })),
    ),
  )

  it.each(cases)('$name → $expected', ({ device, now, action, session, expected }) => {
    const input = session === undefined ? { device, action } : { device, action, session }
    const v = decide(input, now)
    expect(outcome(v)).toBe(expected)
    if (v.ok) expect(v.deviceId).toBe('dev_1')
    else expect(v.reason.length).toBeGreaterThan(0)
  })
})

describe('decide: what each answer says', () => {
  it('unknown, pending and revoked get the very same verdict, whatever the target', () => {
    const verdicts = [undefined, grant({ status: 'pending' }), grant({ status: 'revoked' })].flatMap((device) =>
      ACTIONS.flatMap((action) =>
        [undefined, 'work-api', 'main', ''].map((session) => decide({ device, action, session }, EXPIRES - HOUR)),
      ),
    )
    const first = verdicts[0]!
    expect(first.ok).toBe(false)
    for (const v of verdicts) expect(v).toEqual(first)
    // Nothing in the answer names the device, its grant or the session.
    const text = JSON.stringify(first)
    for (const secret of ['dev_1', 'Pixel', 'work', 'main']) expect(text).not.toContain(secret)
  })

  it('an unknown device gets DEVICE_UNKNOWN even for a nonsense action', () => {
    expect(outcome(decide({ device: undefined, action: 'sudo' as Action }, 0))).toBe(U)
  })

  it('soft expiry asks for renewal; hard expiry says renewal is no longer possible from the phone', () => {
    const soft = decide({ device: grant(), action: 'attach', session: 'work-api' }, EXPIRES)
    const hard = decide({ device: grant(), action: 'renew' }, GRACE_END)
    expect(soft).toMatchObject({ ok: false, code: 'DEVICE_EXPIRED' })
    expect(hard).toMatchObject({ ok: false, code: 'DEVICE_EXPIRED' })
    if (soft.ok || hard.ok) throw new Error('unreachable')
    expect(soft.reason).toMatch(/ask for renewal/)
    expect(hard.reason).toMatch(/can no longer ask for renewal/)
  })

  it('an expired device learns nothing about sessions', () => {
    const a = decide({ device: grant(), action: 'attach', session: 'work-api' }, EXPIRES + HOUR)
    const b = decide({ device: grant(), action: 'attach', session: 'main' }, EXPIRES + HOUR)
    expect(a).toEqual(b)
  })

  it('SESSION_NOT_ALLOWED does not echo the session name', () => {
    const v = decide({ device: grant(), action: 'kill-session', session: 'secret-project' }, 0)
    expect(v).toMatchObject({ ok: false, code: 'SESSION_NOT_ALLOWED' })
    expect(JSON.stringify(v)).not.toContain('secret-project')
  })

  it('allows with the device id and the read-only flag', () => {
    expect(decide({ device: grant({ id: 'dev_9' }), action: 'attach', session: 'work-x' }, 0)).toEqual({
      ok: true,
      deviceId: 'dev_9',
      readOnly: false,
    })
    expect(decide({ device: grant({ readOnly: true }), action: 'attach', session: 'work-x' }, 0)).toEqual({
      ok: true,
      deviceId: 'dev_1',
      readOnly: true,
    })
  })

  it('every session pattern of the grant counts, and * grants all', () => {
    const device = grant({ sessions: parseSessionPatterns('work-*, main') })
    expect(outcome(decide({ device, action: 'attach', session: 'main' }, 0))).toBe('rw')
    expect(outcome(decide({ device, action: 'attach', session: 'main2' }, 0))).toBe(S)
    expect(outcome(decide({ device, action: 'attach', session: 'work' }, 0))).toBe(S)
    const all = grant({ sessions: parseSessionPatterns('*') })
    expect(outcome(decide({ device: all, action: 'kill-session', session: 'anything' }, 0))).toBe('rw')
  })
})

describe('decide: fails closed on malformed input', () => {
  it('an empty or non-string session is BAD_TARGET, even for list and subscribe-events', () => {
    const device = grant({ sessions: parseSessionPatterns('*') })
    for (const action of ['list', 'subscribe-events', 'attach'] as const) {
      expect(outcome(decide({ device, action, session: '' }, 0))).toBe(T)
      expect(outcome(decide({ device, action, session: 42 as unknown as string }, 0))).toBe(T)
    }
  })

  it('an action that does not exist is BAD_ACTION for a known device', () => {
    expect(outcome(decide({ device: grant(), action: 'exec' as Action, session: 'work-api' }, 0))).toBe('BAD_ACTION')
    expect(outcome(decide({ device: grant(), action: 'toString' as Action }, 0))).toBe('BAD_ACTION')
    expect(outcome(decide({ device: grant(), action: '__proto__' as Action }, 0))).toBe('BAD_ACTION')
  })

  it('a status other than active is unknown', () => {
    const device = grant({ status: 'suspect' as Grant['status'] })
    expect(outcome(decide({ device, action: 'list' }, 0))).toBe(U)
    expect(deviceState(device, 0)).toBe('unknown')
  })

  it('readOnly that is not exactly false is read-only', () => {
    for (const readOnly of [undefined, null, 0, 'false'] as unknown as boolean[]) {
      expect(outcome(decide({ device: grant({ readOnly }), action: 'input', session: 'work-api' }, 0))).toBe(R)
      expect(outcome(decide({ device: grant({ readOnly }), action: 'attach', session: 'work-api' }, 0))).toBe('ro')
    }
  })

  it('a corrupt expiresAt or clock counts as hard-expired', () => {
    for (const expiresAt of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(deviceState(grant({ expiresAt }), 0)).toBe('hard-expired')
      expect(outcome(decide({ device: grant({ expiresAt }), action: 'list' }, 0))).toBe(X)
    }
    expect(deviceState(grant(), Number.NaN)).toBe('hard-expired')
  })

  it('patterns not made by parseSessionPatterns grant no session', () => {
    const sessions = { all: true, items: ['*'] } as unknown as Grant['sessions']
    expect(outcome(decide({ device: grant({ sessions }), action: 'attach', session: 'work-api' }, 0))).toBe(S)
  })
})

describe('decide is pure', () => {
  afterEach(() => vi.restoreAllMocks())

  it('reads no clock and changes nothing it is given', () => {
    vi.spyOn(Date, 'now').mockImplementation(() => {
      throw new Error('decide read the clock')
    })
    const device = Object.freeze(grant())
    const input = Object.freeze({ device, action: 'attach' as const, session: 'work-api' })
    expect(decide(input, EXPIRES - 1)).toEqual({ ok: true, deviceId: 'dev_1', readOnly: false })
    expect(decide(input, EXPIRES)).toMatchObject({ ok: false, code: 'DEVICE_EXPIRED' })
    expect(decide(input, EXPIRES - 1)).toEqual(decide(input, EXPIRES - 1))
  })
})

describe('deviceState', () => {
  it.each([
    ['no record', undefined, 0, 'unknown'],
    ['pending', grant({ status: 'pending' }), 0, 'unknown'],
    ['revoked', grant({ status: 'revoked' }), 0, 'unknown'],
    ['1 ms before expiry', grant(), EXPIRES - 1, 'active'],
    ['at expiry', grant(), EXPIRES, 'soft-expired'],
    ['1 ms before 48 h', grant(), GRACE_END - 1, 'soft-expired'],
    ['at 48 h', grant(), GRACE_END, 'hard-expired'],
    ['1 ms after 48 h', grant(), GRACE_END + 1, 'hard-expired'],
    ['never expiring, far future', grant({ expiresAt: null }), 8.64e15, 'active'],
  ] as const)('%s → %s', (_label, device, now, expected) => {
    expect(deviceState(device, now)).toBe(expected)
  })

  it('the grace period is 48 hours', () => {
    expect(EXPIRY_GRACE_MS).toBe(172_800_000)
  })
})

describe('visibleSessions', () => {
  const names = ['main', 'work-api', 'work', 'work-', 'xwork-a', 'work-web', 'main2']

  it('keeps the allowed names in order', () => {
    expect(visibleSessions(grant(), names)).toEqual(['work-api', 'work-', 'work-web'])
    expect(visibleSessions(grant({ sessions: parseSessionPatterns('main,work') }), names)).toEqual(['main', 'work'])
    expect(visibleSessions(grant({ sessions: parseSessionPatterns('*') }), names)).toEqual(names)
  })

  it('shows nothing to a device that is not active', () => {
    expect(visibleSessions(undefined, names)).toEqual([])
    expect(visibleSessions(grant({ status: 'pending', sessions: parseSessionPatterns('*') }), names)).toEqual([])
    expect(visibleSessions(grant({ status: 'revoked', sessions: parseSessionPatterns('*') }), names)).toEqual([])
  })
})
