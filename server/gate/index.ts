export { ACTIONS, decide, deviceState, EXPIRY_GRACE_MS, visibleSessions } from './decide.js'
export type { Action, DenyCode, DeviceState, GateInput, Grant, Verdict } from './decide.js'
export { formatSessionPatterns, matchesSession, parseSessionPatterns, PATTERN_LIMITS } from './patterns.js'
export type { SessionPatterns } from './patterns.js'
