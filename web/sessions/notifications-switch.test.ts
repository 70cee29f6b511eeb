import { describe, expect, it } from 'vitest'
import { ApiError } from '../api.js'
import { WorkerMissingError } from '../notifications.js'
import { failureReason, switchView } from './notifications-switch.js'

describe('switchView', () => {
  it('is on only when the browser and the computer both have the subscription, and says whether it is private', () => {
    expect(switchView({ kind: 'on', private: false })).toMatchObject({ on: true, usable: true, sentence: expect.stringMatching(/^On: /) })
    expect(switchView({ kind: 'on', private: true }).sentence).toMatch(/^On, private: .*never the message/)
    expect(switchView({ kind: 'lost' })).toMatchObject({ on: false, usable: true, sentence: expect.stringMatching(/^Off: the computer no longer sends/) })
    expect(switchView({ kind: 'off' })).toMatchObject({ on: false, usable: true })
  })

  it('cannot be tapped where the browser forbids it, and says what to do', () => {
    expect(switchView({ kind: 'blocked' })).toMatchObject({ on: false, usable: false, sentence: expect.stringMatching(/^Blocked: .*site settings/) })
    expect(switchView({ kind: 'unsupported' })).toMatchObject({ on: false, usable: false, sentence: expect.stringMatching(/home screen/) })
    expect(switchView({ kind: 'insecure' })).toMatchObject({ on: false, usable: false, sentence: expect.stringMatching(/https/) })
  })
})

describe('failureReason', () => {
  it('puts what went wrong in words, never the raw error', () => {
    expect(failureReason(new DOMException('Registration failed - permission denied', 'AbortError'))).toMatch(/does not let Handoff receive push messages here/)
    expect(failureReason(new DOMException('Registration failed - push service not available', 'AbortError'))).toMatch(/could not reach its push service/)
    expect(failureReason(new ApiError('NETWORK_ERROR', 0, 'Could not reach the Handoff server (TypeError: Failed to fetch).'))).toBe('the computer could not be reached.')
    expect(failureReason(new ApiError('BAD_SUBSCRIPTION', 400, 'the endpoint must use https'))).toBe('the endpoint must use https')
    expect(failureReason(new WorkerMissingError())).toMatch(/still installing/)
    expect(failureReason(new TypeError('x is not a function'))).not.toMatch(/TypeError|x is not/)
  })
})
