import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AnswerStateJson } from '../protocol/index.js'
import { appendEvent, type EventInput } from '../server/events/index.js'
import { readAudit } from '../server/store/index.js'
import { addSignedInDevice, changeDevice, type TestDevice } from './support/device.js'
import { errorCode, request, startHarness, type Harness } from './support/server.js'

// Answering an event from the phone (POST /api/events/:id/answer) against a
// real server and a private tmux server: the pane runs `cat`, so what the
// answer types shows on its screen (the tty echoes it), and capture-pane tells.

const POLL = { timeout: 10_000, interval: 50 }

let h: Harness
let pane: string
beforeEach(async () => {
  h = await startHarness()
  h.tmux.newSession('proj', 'cat')
  h.tmux.run('new-window', '-d', '-t', 'proj', 'cat')
  pane = h.tmux.run('display-message', '-p', '-t', 'proj:0', '#{pane_id}').trim()
})
afterEach(() => h.stop())

const get = (path: string, device: TestDevice = h.device) => request(h.server.port, path, { headers: { cookie: device.cookie } })
const post = (path: string, body: unknown, device: TestDevice = h.device, headers: Record<string, string> = {}) =>
  request(h.server.port, path, {
    method: 'POST',
    headers: { origin: h.origin, 'content-type': 'application/json', cookie: device.cookie, ...headers },
    body: JSON.stringify(body),
  })
const answer = (id: number, choice: number, device?: TestDevice, headers?: Record<string, string>) => post(`/api/events/${id}/answer`, { choice }, device, headers)

const CLAUDE_CHOICES = [
  { label: 'Yes', keys: '1' },
  { label: "Yes, don't ask again", keys: '2' },
  { label: 'No', keys: '<Esc>' },
]

/** Writes an event as `handoff notify` does and waits until the server has it. */
async function event(extra: Partial<EventInput> = {}): Promise<number> {
  const { id } = await appendEvent(h.home, {
    type: 'notify',
    message: 'Claude needs your permission to use Bash',
    tmux_session: 'proj',
    tmux_window: 0,
    tmux_pane: pane,
    choices: CLAUDE_CHOICES,
    ...extra,
  })
  await expect.poll(async () => errorCode(await get(`/api/events/${id}/answer`)), POLL).not.toBe('EVENT_NOT_FOUND')
  return id
}

const screen = () => h.tmux.capture('proj:0').trimEnd()
const audit = async () => (await readAudit(h.home)).entries.filter((e) => e.action === 'input')

describe('answering an event', () => {
  it('shows what can be answered, types the choice into the exact pane once, and audits it', async () => {
    const id = await event()
    const state = await get(`/api/events/${id}/answer`)
    expect(state.status).toBe(200)
    expect(state.json).toEqual({
      event: id,
      message: 'Claude needs your permission to use Bash',
      session: 'proj',
      window: 0,
      pane,
      choices: ['Yes', "Yes, don't ask again", 'No'],
      closed: null,
    } satisfies AnswerStateJson)

    const sent = await answer(id, 0)
    expect(sent.status).toBe(200)
    expect(sent.json).toEqual({ event: id, choice: 0, label: 'Yes', pane })
    await expect.poll(screen, POLL).toBe('1')
    // The other window's pane got nothing.
    expect(h.tmux.capture('proj:1').trim()).toBe('')
    expect(await audit()).toEqual([
      expect.objectContaining({ deviceId: h.device.record.id, action: 'input', target: 'proj', result: 'allow', reason: `answer to event ${id}, choice 0` }),
    ])

    // Once only: a second answer (another phone, the notification and the app) types nothing.
    expect(errorCode(await answer(id, 2))).toBe('ANSWER_STALE')
    expect((await get(`/api/events/${id}/answer`)).json).toMatchObject({ closed: { code: 'ANSWER_STALE' } })
    expect(screen()).toBe('1')
  })

  it('types named keys as the pane expects them, text and Enter in order', async () => {
    const id = await event({ choices: [{ label: 'Yes', keys: 'yes<Enter>' }, { label: 'Escape', keys: '<Esc>' }] })
    expect((await answer(id, 0)).status).toBe(200)
    // cat echoes the line as typed, then writes it back after Enter.
    await expect.poll(screen, POLL).toBe('yes\nyes')
    const esc = await event({ choices: [{ label: 'Escape', keys: '<Esc>' }] })
    expect((await answer(esc, 0)).status).toBe(200)
    await expect.poll(screen, POLL).toBe('yes\nyes\n^[')
  })

  it('refuses a read-only device, one outside its grant and a revoked one, typing nothing, audited', async () => {
    const id = await event()
    const viewer = await addSignedInDevice(h.home, h.origin, { name: 'viewer', readOnly: true })
    const other = await addSignedInDevice(h.home, h.origin, { name: 'other', sessions: 'work-*' })
    const revoked = await addSignedInDevice(h.home, h.origin, { name: 'gone' })
    await changeDevice(h.home, revoked.record.id, () => ({ status: 'revoked' }))
    const expired = await addSignedInDevice(h.home, h.origin, { name: 'old', expiresAt: Date.now() - 60_000 })

    const refused = await answer(id, 0, viewer)
    expect([refused.status, errorCode(refused)]).toEqual([403, 'READ_ONLY'])
    expect(errorCode(await answer(id, 0, other))).toBe('SESSION_NOT_ALLOWED')
    // Outside its grant it does not learn what the event asks either.
    expect(errorCode(await get(`/api/events/${id}/answer`, other))).toBe('SESSION_NOT_ALLOWED')
    expect(errorCode(await answer(id, 0, revoked))).toBe('NOT_SIGNED_IN')
    expect(errorCode(await answer(id, 0, expired))).toBe('DEVICE_EXPIRED')
    expect(screen()).toBe('')
    const denials = (await audit()).map((e) => [e.deviceName, e.result, e.reason])
    expect(denials).toEqual([
      ['viewer', 'deny', 'READ_ONLY'],
      ['other', 'deny', 'SESSION_NOT_ALLOWED'],
      [null, 'deny', 'DEVICE_UNKNOWN'],
      ['old', 'deny', 'DEVICE_EXPIRED'],
    ])
    // Still open for a device that may answer.
    expect((await answer(id, 0)).status).toBe(200)
  })

  it('refuses writes from another site, like every write', async () => {
    const id = await event()
    expect(errorCode(await answer(id, 0, h.device, { origin: 'http://evil.example' }))).toBe('ORIGIN_MISMATCH')
    expect(errorCode(await answer(id, 0, h.device, { 'sec-fetch-site': 'cross-site' }))).toBe('ORIGIN_MISMATCH')
    expect(screen()).toBe('')
  })

  it('says clearly what cannot be answered: unknown event, no choices, unknown choice, bad request', async () => {
    const id = await event()
    expect(errorCode(await answer(id + 100, 0))).toBe('EVENT_NOT_FOUND')
    expect(errorCode(await get('/api/events/0/answer'))).toBe('BAD_REQUEST')
    expect(errorCode(await post(`/api/events/${id}/answer`, { choice: -1 }))).toBe('BAD_REQUEST')
    expect(errorCode(await post(`/api/events/${id}/answer`, { choice: 0, keys: '\u0003' }))).toBe('BAD_REQUEST')
    const unknown = await answer(id, 3)
    expect([unknown.status, errorCode(unknown)]).toEqual([400, 'UNKNOWN_CHOICE'])
    const plain = await event({ choices: undefined })
    expect(errorCode(await answer(plain, 0))).toBe('NO_CHOICES')
    const noPane = await event({ tmux_pane: undefined })
    expect(errorCode(await answer(noPane, 0))).toBe('NO_CHOICES')
    const noTab = await event({ tmux_session: undefined, tmux_window: undefined })
    expect(errorCode(await get(`/api/events/${noTab}/answer`))).toBe('NO_CHOICES')
    expect(screen()).toBe('')
  })

  it('refuses when the pane is gone or has left the event’s tab', async () => {
    h.tmux.run('split-window', '-d', '-t', pane, 'cat')
    const moved = await event()
    // The pane becomes a window of its own: same id, another tab.
    h.tmux.run('break-pane', '-d', '-s', pane)
    const gone = await answer(moved, 0)
    expect([gone.status, errorCode(gone)]).toEqual([410, 'PANE_GONE'])
    h.tmux.run('kill-pane', '-t', pane)
    expect((await get(`/api/events/${moved}/answer`)).json).toMatchObject({ closed: { code: 'PANE_GONE' } })
    expect(errorCode(await answer(moved, 0))).toBe('PANE_GONE')
  })

  it('closes an event that a later one from its pane settled, but not on a reminder that it still waits', async () => {
    const asked = await event()
    await event({ message: 'Claude is waiting for your input', choices: undefined })
    expect((await get(`/api/events/${asked}/answer`)).json).toMatchObject({ closed: null })
    await event({ type: 'stop', message: 'Claude finished', choices: undefined })
    expect(errorCode(await answer(asked, 0))).toBe('ANSWER_STALE')
    // A later event from another pane settles nothing.
    const other = h.tmux.run('display-message', '-p', '-t', 'proj:1', '#{pane_id}').trim()
    const again = await event()
    await event({ type: 'stop', tmux_window: 1, tmux_pane: other, choices: undefined })
    expect((await answer(again, 1)).status).toBe(200)
    await expect.poll(screen, POLL).toBe('2')
  })
})
