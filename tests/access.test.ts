import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { issueToken, loadTokenKey } from '../server/auth/index.js'
import { startServer } from '../server/index.js'
import { addSignedInDevice, changeDevice } from './support/device.js'
import { errorCode, request, startHarness, type Harness } from './support/server.js'
import { TermClient } from './support/term.js'

let h: Harness
const open: TermClient[] = []
beforeEach(async () => {
  h = await startHarness()
})
afterEach(async () => {
  for (const c of open.splice(0)) c.ws.terminate()
  await h.stop()
})

const get = (path: string, cookie?: string, headers: Record<string, string> = {}) =>
  request(h.server.port, path, { headers: { ...(cookie ? { cookie } : {}), ...headers } })
const send = (method: string, path: string, cookie: string, body?: unknown) =>
  request(h.server.port, path, {
    method,
    headers: { origin: h.origin, cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
const term = async (path: string, cookie: string) => {
  const c = await TermClient.open(h.server.port, path, { cookie })
  open.push(c)
  return c
}
const refused = (p: Promise<unknown>) =>
  p.then(
    () => 'opened',
    (e: { status?: number; body?: string }) => `${e.status} ${(JSON.parse(e.body ?? '{}') as { error?: { code?: string } }).error?.code}`,
  )
const names = async (cookie: string) => ((await get('/api/sessions', cookie)).json as { name: string }[]).map((s) => s.name)

describe('signing in', () => {
  it('refuses every API call and terminal without a valid token, whatever the headers claim', async () => {
    h.tmux.newSession('main')
    expect(errorCode(await get('/api/sessions'))).toBe('NOT_SIGNED_IN')
    expect(errorCode(await get('/api/sessions', undefined, { 'x-forwarded-for': '127.0.0.1', 'tailscale-user-login': 'me@example.com' }))).toBe('NOT_SIGNED_IN')
    expect(await refused(TermClient.open(h.server.port, '/api/term/main/0'))).toBe('401 NOT_SIGNED_IN')

    const key = await loadTokenKey(h.home)
    const id = h.device.record.id
    const forged = await new SignJWT({ gen: 1 }).setProtectedHeader({ alg: 'HS256' }).setIssuer('handoff').setAudience(h.origin)
      .setSubject(id).setIssuedAt().setExpirationTime('1h').setJti('x').sign(new Uint8Array(32))
    const otherAudience = await issueToken(key, { deviceId: id, generation: 1, audience: 'http://localhost:1' })
    const expired = await issueToken(key, { deviceId: id, generation: 1, audience: h.origin, ttlMs: 1_000, now: Date.now() - 10_000 })
    const staleGeneration = await issueToken(key, { deviceId: id, generation: 0, audience: h.origin })
    for (const token of [forged, otherAudience, expired, staleGeneration, 'not-a-token']) {
      expect(errorCode(await get('/api/sessions', `handoff=${token}`))).toBe('NOT_SIGNED_IN')
    }
    expect((await get('/api/sessions', h.device.cookie)).status).toBe(200)
    expect((await get('/api/me', h.device.cookie)).json).toMatchObject({ device: { id, state: 'active' } })
  })
})

describe('the gate through the server', () => {
  it('keeps a work-* device out of main and work: list, windows, attach, kill', async () => {
    for (const s of ['main', 'work', 'work-api']) h.tmux.newSession(s)
    const work = await addSignedInDevice(h.home, h.origin, { sessions: 'work-*' })
    expect(await names(work.cookie)).toEqual(['work-api'])
    for (const s of ['main', 'work']) {
      expect(errorCode(await get(`/api/sessions/${s}/windows`, work.cookie))).toBe('SESSION_NOT_ALLOWED')
      expect(await refused(TermClient.open(h.server.port, `/api/term/${s}/0`, { cookie: work.cookie }))).toBe('403 SESSION_NOT_ALLOWED')
      expect(errorCode(await send('DELETE', `/api/sessions/${s}`, work.cookie))).toBe('SESSION_NOT_ALLOWED')
    }
    expect(errorCode(await send('POST', '/api/sessions', work.cookie, { name: 'main2' }))).toBe('SESSION_NOT_ALLOWED')
    expect((await send('POST', '/api/sessions', work.cookie, { name: 'work-new' })).status).toBe(201)
    expect(await names(h.device.cookie)).toEqual(['main', 'work', 'work-api', 'work-new'])
  })

  it('never lets a read-only device type, even tmux key bindings and mouse reports', async () => {
    h.tmux.newSession('main')
    h.tmux.newSession('other')
    const viewer = await addSignedInDevice(h.home, h.origin, { readOnly: true })
    h.tmux.run('send-keys', '-t', 'main:0', 'echo ready-$((1+1))', 'Enter')
    await expect.poll(() => h.tmux.capture('main:0'), { timeout: 10_000 }).toContain('ready-2')
    const before = h.tmux.capture('main:0')
    const c = await term('/api/term/main/0', viewer.cookie)
    await expect.poll(() => c.text(), { timeout: 10_000 }).toContain('ready-2')
    c.type('echo typed-$((2+2))\r')
    c.type('\x02s') // prefix + s: choose-tree
    c.type('\x02:kill-server\r') // prefix + : command prompt
    c.type('\x02)') // prefix + ): next session
    c.type('\x1b[<0;10;5M\x1b[<0;10;5m') // an SGR mouse click
    // An echo through an allowed writer proves the pane is live and in order.
    h.tmux.run('send-keys', '-t', 'main:0', 'echo marker-$((3+3))', 'Enter')
    await expect.poll(() => h.tmux.capture('main:0'), { timeout: 10_000 }).toContain('marker-6')
    expect(h.tmux.capture('main:0')).not.toContain('typed-4')
    expect(h.tmux.capture('main:0').startsWith(before.trimEnd().split('\n')[0] ?? '')).toBe(true)
    expect(h.tmux.run('list-sessions', '-F', '#{session_name}')).toContain('other')
    // Nothing changed in tmux either: no client, session or size of the phone's making.
    expect(h.tmux.run('list-clients', '-F', '#{client_control_mode}').trim().split('\n').every((m) => m === '1')).toBe(true)
    expect(h.tmux.run('display-message', '-p', '-t', 'main:0', '#{window_width}x#{window_height}').trim()).toBe('120x30')
    expect(errorCode(await send('POST', '/api/sessions', viewer.cookie, { name: 'x' }))).toBe('READ_ONLY')
    expect(errorCode(await send('DELETE', '/api/sessions/main', viewer.cookie))).toBe('READ_ONLY')
  })

  it('lets an expired device only ask for renewal', async () => {
    h.tmux.newSession('main')
    const old = await addSignedInDevice(h.home, h.origin, { expiresAt: Date.now() - 60_000 })
    expect((await get('/api/me', old.cookie)).json).toMatchObject({ device: { state: 'soft-expired', renewalRequested: false } })
    expect(errorCode(await get('/api/sessions', old.cookie))).toBe('DEVICE_EXPIRED')
    expect(await refused(TermClient.open(h.server.port, '/api/term/main/0', { cookie: old.cookie }))).toBe('403 DEVICE_EXPIRED')
    expect((await send('POST', '/api/renew', old.cookie, {})).status).toBe(204)
    expect((await get('/api/me', old.cookie)).json).toMatchObject({ device: { renewalRequested: true } })
    const gone = await addSignedInDevice(h.home, h.origin, { expiresAt: Date.now() - 49 * 60 * 60_000 })
    expect(errorCode(await send('POST', '/api/renew', gone.cookie, {}))).toBe('DEVICE_EXPIRED')
    expect(errorCode(await get('/api/me', gone.cookie))).toBe('NOT_SIGNED_IN')
  })
})

describe('live terminals follow the device', () => {
  it('closes a revoked device\'s terminal within a second', async () => {
    h.tmux.newSession('main')
    const phone = await addSignedInDevice(h.home, h.origin)
    const c = await term('/api/term/main/0', phone.cookie)
    const started = Date.now()
    await changeDevice(h.home, phone.record.id, () => ({ status: 'revoked' }))
    expect(await c.closed).toEqual({ code: 4403, reason: 'DEVICE_REVOKED' })
    // Within a second by design (the devices file is watched); slack for a loaded CI machine.
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(errorCode(await get('/api/sessions', phone.cookie))).toBe('NOT_SIGNED_IN')
  })

  it('keeps a device revoked while the server was stopped out after it starts again', async () => {
    h.tmux.newSession('main')
    const phone = await addSignedInDevice(h.home, h.origin)
    await h.server.close()
    await changeDevice(h.home, phone.record.id, () => ({ status: 'revoked' }))
    const again = await startServer({ port: h.server.port, tmuxSocket: h.tmux.socket, home: h.home, log: () => {} })
    try {
      expect(await refused(TermClient.open(again.port, '/api/term/main/0', { cookie: phone.cookie }))).toBe('401 NOT_SIGNED_IN')
      expect(errorCode(await request(again.port, '/api/sessions', { headers: { cookie: phone.cookie } }))).toBe('NOT_SIGNED_IN')
    } finally {
      await again.close()
    }
  })

  it('closes a terminal outside narrowed sessions, and follows a switch to read-only', async () => {
    h.tmux.newSession('main')
    h.tmux.newSession('work-a')
    const phone = await addSignedInDevice(h.home, h.origin)
    const onMain = await term('/api/term/main/0', phone.cookie)
    const onWork = await term('/api/term/work-a/0', phone.cookie)
    await changeDevice(h.home, phone.record.id, () => ({ sessions: 'work-*', readOnly: true }))
    expect(await onMain.closed).toEqual({ code: 4403, reason: 'ACCESS_CHANGED' })
    // Read-only from now on: the keys never reach the pane.
    await new Promise((r) => setTimeout(r, 300))
    onWork.type('echo late-$((5+5))\r')
    h.tmux.run('send-keys', '-t', 'work-a:0', 'echo marker-$((3+3))', 'Enter')
    await expect.poll(() => h.tmux.capture('work-a:0'), { timeout: 10_000 }).toContain('marker-6')
    expect(h.tmux.capture('work-a:0')).not.toContain('late-10')
  })

  it('closes a work-* terminal whose session is renamed to main, or whose tmux client is moved to main', async () => {
    h.tmux.newSession('main')
    h.tmux.newSession('work-a')
    h.tmux.newSession('work-b')
    h.tmux.run('send-keys', '-t', 'main:0', 'echo secret-$((6*7))', 'Enter')
    const work = await addSignedInDevice(h.home, h.origin, { sessions: 'work-*' })
    const renamed = await term('/api/term/work-b/0', work.cookie)
    await expect.poll(() => renamed.received, { timeout: 10_000 }).toBeGreaterThan(0)
    const renamedAt = performance.now()
    h.tmux.run('rename-session', '-t', 'work-b', 'main2')
    expect(await renamed.closed).toEqual({ code: 4403, reason: 'ACCESS_CHANGED' })
    // tmux's notification drives the re-check: well within the second the gate promises.
    expect(performance.now() - renamedAt).toBeLessThan(1_000)

    // Someone at the desktop moves Handoff's control client to main: the phone sees nothing of it.
    const moving = await term('/api/term/work-a/0', work.cookie)
    await expect.poll(() => moving.received, { timeout: 10_000 }).toBeGreaterThan(0)
    const ours = h.tmux.run('list-clients', '-F', '#{client_name} #{session_name}').trim().split('\n').find((l) => l.endsWith(' work-a'))
    h.tmux.run('switch-client', '-c', ours?.split(' ')[0] ?? '', '-t', 'main')
    expect((await moving.closed).code).toBe(4500)
    expect(moving.text()).not.toContain('secret-42')
  })
})

describe('audit', () => {
  it('records every decision as one JSON line that no name can forge', async () => {
    h.tmux.newSession('main')
    const odd = await addSignedInDevice(h.home, h.origin, { name: 'evil","result":"allow', sessions: 'work-*' })
    const forged = 'main\n{"result":"allow","action":"kill-session"}'
    await get('/api/sessions', odd.cookie)
    await get(`/api/sessions/${encodeURIComponent(forged)}/windows`, odd.cookie)
    const lines = readFileSync(join(h.home, 'audit.jsonl'), 'utf8').trim().split('\n')
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(entries.every((e) => typeof e.ts === 'string' && (e.result === 'allow' || e.result === 'deny'))).toBe(true)
    expect(entries.filter((e) => e.deviceId === odd.record.id).map((e) => [e.action, e.target, e.result, e.reason])).toEqual([
      ['list', null, 'allow', null],
      ['windows', forged, 'deny', 'SESSION_NOT_ALLOWED'],
    ])
    expect(entries.filter((e) => e.deviceId === odd.record.id).map((e) => e.deviceName)).toEqual([odd.record.name, odd.record.name])
    expect(lines.join('\n')).not.toContain(odd.token)
  })
})
