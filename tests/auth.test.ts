// Pairing and sign-in against a real Chromium passkey (the CDP virtual
// authenticator), with server/auth's routes alone in a tiny Hono server on
// loopback: no tmux, no CLI, no web app. The CLI's part (creating the pending
// device, confirming the code) is done here with updateDevices, as the CLI does.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { authenticate, createAuthRoutes, hashPairingSecret, newPairingSecret, pairingCode, UNNAMED_DEVICE } from '../server/auth/index.js'
import { HandoffError } from '../server/errors.js'
import { newDeviceId, readDevices, updateDevices } from '../server/store/index.js'
import { closeBrowserForTests, openPhone, type OwnPhone } from './support/browser.js'

let phone: OwnPhone
let server: ServerType
let origin: string
let home: string

afterAll(() => closeBrowserForTests())

beforeEach(async () => {
  home = join(mkdtempSync(join(tmpdir(), 'handoff-auth-browser-')), 'home')
  // Listen first: the origin (with its port 0 pick) is part of the routes' configuration.
  let fetchApp: (req: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 })
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: (req) => fetchApp(req), hostname: '127.0.0.1', port: 0 }, () => resolve(s))
  })
  origin = `http://localhost:${(server.address() as AddressInfo).port}`
  const app = new Hono()
  app.get('/', (c) => c.html('<!doctype html><title>auth test</title>'))
  // The rate limiter is tested on its own; here every request counts as a new peer so the ceremonies never meet it.
  app.route('/', createAuthRoutes({ home, rpID: 'localhost', origin, secureCookie: false, peerKey: () => randomUUID() }))
  app.onError((err, c) =>
    err instanceof HandoffError
      ? c.json({ error: { code: err.code, message: err.message } }, err.status)
      : c.json({ error: { code: 'INTERNAL', message: String(err) } }, 500),
  )
  fetchApp = (req) => app.fetch(req)

  // A desktop browser window, not signed in, with a platform passkey authenticator that verifies the user.
  phone = await openPhone({ home, url: () => origin, mobile: false, signedIn: false, passkeys: true })
  await phone.page.goto(`${origin}/`)
})

afterEach(async () => {
  await phone?.close()
  await new Promise((resolve) => server.close(resolve))
  rmSync(join(home, '..'), { recursive: true, force: true })
  expect(phone?.problems ?? []).toEqual([])
})

async function addPending() {
  const secret = newPairingSecret()
  const id = newDeviceId()
  const now = Date.now()
  await updateDevices(home, (ds) => [
    ...ds,
    {
      id,
      name: UNNAMED_DEVICE,
      nameFromUser: false,
      status: 'pending',
      sessions: 'main',
      readOnly: false,
      createdAt: now,
      expiresAt: now + 86_400_000,
      lastSeenAt: null,
      renewalRequestedAt: null,
      credential: null,
      tailnetUser: null,
      tailnetNode: null,
      generation: 0,
      suspect: false,
      pairing: { secretHash: hashPairingSecret(secret), expiresAt: now + 5 * 60_000, state: 'waiting', challenge: null },
    },
  ])
  return { secret, id }
}

type Reply = { status: number; body: any }

/** In the page: options → navigator.credentials.create → verify, with the browser's own JSON (toJSON). */
const registerInPage = (secret: string): Promise<Reply> =>
  phone.page.evaluate(async (secret) => {
    const post = async (path: string, body: unknown) => {
      const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: r.status, body: await r.json() }
    }
    const options = await post('/api/pair/options', { secret })
    if (options.status !== 200) return options
    const cred = (await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body) })) as PublicKeyCredential
    return post('/api/pair/verify', { secret, response: cred.toJSON() })
  }, secret)

/** In the page: sign-in options → navigator.credentials.get → verify; returns the reply and the assertion sent. */
const signInInPage = (): Promise<Reply & { assertion: unknown }> =>
  phone.page.evaluate(async () => {
    const post = async (path: string, body: unknown) => {
      const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: r.status, body: await r.json() }
    }
    const options = await post('/api/auth/options', {})
    const cred = (await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.body) })) as PublicKeyCredential
    const assertion = cred.toJSON()
    return { ...(await post('/api/auth/verify', { response: assertion })), assertion }
  })

const postInPage = (path: string, body: unknown): Promise<Reply> =>
  phone.page.evaluate(
    async ([path, body]) => {
      const r = await fetch(path as string, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: r.status, body: await r.json() }
    },
    [path, body] as const,
  )

describe('pairing and sign-in with a Chromium passkey', () => {
  it('registers, confirms, signs in, sets the cookie, and refuses a replay', async () => {
    const { secret, id } = await addPending()
    const reg = await registerInPage(secret)
    expect(reg.status, JSON.stringify(reg.body)).toBe(200)
    const stored = (await readDevices(home)).find((d) => d.id === id)
    expect(stored?.pairing?.state).toBe('registered')
    expect(stored?.name).toBe('Linux · Chrome')
    expect(reg.body.code).toBe(pairingCode(secret, stored?.credential?.id ?? '', stored?.credential?.publicKey ?? ''))

    // What handoff pair does when the typed code matches.
    await updateDevices(home, (ds) =>
      ds.map((d) => (d.id === id && d.pairing ? { ...d, status: 'active', generation: d.generation + 1, pairing: { ...d.pairing, state: 'confirmed' } } : d)),
    )
    expect(await postInPage('/api/pair/status', { secret })).toEqual({ status: 200, body: { state: 'confirmed' } })

    const first = await signInInPage()
    expect(first.status).toBe(200)
    expect(first.body.device).toMatchObject({ id, sessions: 'main', readOnly: false })
    const cookie = (await phone.context.cookies()).find((c) => c.name === 'handoff')
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' })
    expect((await authenticate({ home, origin, secureCookie: false }, `handoff=${cookie?.value}`))?.id).toBe(id)
    const afterFirst = (await readDevices(home)).find((d) => d.id === id)
    expect(afterFirst?.lastSeenAt).not.toBeNull()

    const replay = await postInPage('/api/auth/verify', { response: first.assertion })
    expect(replay.status).toBe(401)
    expect(replay.body.error.code).toBe('SIGN_IN_FAILED')

    // A second sign-in: the counter only goes up, and the device is not suspect.
    expect((await signInInPage()).status).toBe(200)
    const afterSecond = (await readDevices(home)).find((d) => d.id === id)
    expect(afterSecond?.suspect).toBe(false)
    expect(afterSecond?.credential?.counter ?? 0).toBeGreaterThanOrEqual(afterFirst?.credential?.counter ?? 0)

    const out = await postInPage('/api/pair/status', { secret })
    expect(out.body.state).toBe('confirmed')
  })

  it('burns the link when a second passkey is made with it', async () => {
    const { secret, id } = await addPending()
    expect((await registerInPage(secret)).status).toBe(200)
    const again = await registerInPage(secret)
    expect(again.status).toBe(404)
    expect(again.body.error.code).toBe('PAIRING_INVALID')
    const d = (await readDevices(home)).find((x) => x.id === id)
    expect(d?.pairing?.state).toBe('burned')
    expect(d?.status).toBe('pending')
  })

  it('refuses sign-in with a passkey that was never confirmed', async () => {
    const { secret } = await addPending()
    expect((await registerInPage(secret)).status).toBe(200)
    const res = await signInInPage()
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('SIGN_IN_FAILED')
  })
})
