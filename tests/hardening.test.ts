import { request as httpRequest } from 'node:http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startHarness, errorCode, request, type Harness, type Reply } from './support/server.js'
import { TermClient } from './support/term.js'

let h: Harness
beforeEach(async () => {
  h = await startHarness()
  h.tmux.newSession('main')
})
afterEach(async () => {
  await h.stop()
})

/** Every route that changes state, with a body it would accept. */
const WRITES: [method: string, path: string, body: unknown][] = [
  ['POST', '/api/renew', {}],
  ['POST', '/api/sessions', { name: 'made' }],
  ['DELETE', '/api/sessions/main', undefined],
  ['POST', '/api/sessions/main/windows', {}],
  ['DELETE', '/api/sessions/main/windows/0', undefined],
  ['POST', '/api/pair/info', {}],
  ['POST', '/api/pair/options', {}],
  ['POST', '/api/pair/verify', {}],
  ['POST', '/api/pair/status', {}],
  ['POST', '/api/auth/options', {}],
  ['POST', '/api/auth/verify', {}],
  ['POST', '/api/auth/logout', {}],
  ['POST', '/api/push/subscription', {}],
  ['DELETE', '/api/push/subscription', undefined],
  ['POST', '/api/push/test', {}],
]

const write = (method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Reply> =>
  request(h.server.port, path, {
    method,
    headers: { origin: h.origin, cookie: h.device.cookie, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

describe('fetch metadata', () => {
  it('refuses every write another site sent, even with the right Origin', async () => {
    for (const site of ['cross-site', 'same-site', 'bogus']) {
      for (const [method, path, body] of WRITES) {
        const r = await write(method, path, body, { 'sec-fetch-site': site })
        expect([path, r.status, errorCode(r)]).toEqual([path, 403, 'ORIGIN_MISMATCH'])
      }
    }
    // Nothing happened: the session and its window are still there.
    expect(h.tmux.run('list-windows', '-a', '-F', '#{session_name}:#{window_index}').trim()).toBe('main:0')
  })

  it('lets the app\'s own writes through: same-origin, a typed URL, or a client that sends none', async () => {
    const passing: Record<string, string>[] = [{ 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }, {}]
    for (const headers of passing) {
      const r = await write('POST', '/api/sessions/main/windows', {}, headers)
      expect(r.status).toBe(201)
    }
  })

  it('refuses a terminal upgrade another site sent', async () => {
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: h.server.port,
        path: '/api/term/main/0',
        headers: {
          host: `localhost:${h.server.port}`,
          origin: h.origin,
          cookie: h.device.cookie,
          'sec-fetch-site': 'cross-site',
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      })
      req.on('response', (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('upgrade', () => reject(new Error('upgraded')))
      req.on('error', reject)
      req.end()
    })
    expect(refused.status).toBe(403)
    expect((JSON.parse(refused.body) as { error: { code: string } }).error.code).toBe('ORIGIN_MISMATCH')
    // The same upgrade from the app's own page works.
    const c = await TermClient.open(h.server.port, '/api/term/main/0', { cookie: h.device.cookie })
    await c.close()
  })
})

describe('rate limits', () => {
  it('counts every loopback address as one peer', async () => {
    // Sign-in attempts, each from another 127.x address: one bucket for all of them.
    const attempt = (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: h.server.port,
            localAddress,
            path: '/api/auth/options',
            method: 'POST',
            headers: { host: `localhost:${h.server.port}`, origin: h.origin, 'content-type': 'application/json' },
          },
          (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          },
        )
        req.on('error', reject)
        req.end('{}')
      })
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) statuses.push(await attempt(`127.0.0.${i + 2}`))
    expect(statuses.slice(0, 5).every((s) => s === 200)).toBe(true)
    expect(statuses.slice(5)).toContain(429)
    expect(await attempt('127.9.9.9')).toBe(429)
  })
})
