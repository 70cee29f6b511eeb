import type { LookupAddress } from 'node:dns'
import { createServer } from 'node:net'
import type { LookupFunction } from 'node:net'
import { describe, expect, it } from 'vitest'
import { blockedAddressReason, createPushAgent, guardedLookup } from './address.js'

const stub =
  (...addresses: string[]): LookupFunction =>
  (_host, _options, callback) =>
    (callback as unknown as (e: null, a: LookupAddress[]) => void)(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    )

const lookup = (fn: LookupFunction, all: boolean) =>
  new Promise<{ err: Error | null; result: unknown }>((resolve) =>
    fn('push.example', { all }, (err, address, family) => resolve({ err, result: all ? address : { address, family } })),
  )

describe('blockedAddressReason', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '192.168.1.1', '100.100.1.1', '100.64.0.1', '169.254.169.254',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '::', '::1', 'fd00::1', 'fd7a:115c:a1e0::1', 'fe80::1', 'fe80::1%eth0',
    'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::10.0.0.1', 'not-an-ip',
  ])('blocks %s', (address) => {
    expect(blockedAddressReason(address)).not.toBeNull()
  })

  it.each(['8.8.8.8', '142.250.74.42', '100.63.255.255', '100.128.0.1', '2607:f8b0:4004:c07::5f', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8'])(
    'allows %s',
    (address) => {
      expect(blockedAddressReason(address)).toBeNull()
    },
  )

  it('lets loopback, and only loopback, through under the test-only policy', () => {
    const policy = { allowLoopbackEndpointForTests: true }
    expect(blockedAddressReason('127.0.0.1', policy)).toBeNull()
    expect(blockedAddressReason('::1', policy)).toBeNull()
    expect(blockedAddressReason('10.0.0.1', policy)).not.toBeNull()
    expect(blockedAddressReason('100.100.1.1', policy)).not.toBeNull()
  })
})

describe('guardedLookup', () => {
  it.each(['127.0.0.1', '10.0.0.1', '100.100.1.1', 'fd00::1', '::ffff:127.0.0.1'])('fails a host resolving to %s', async (address) => {
    for (const all of [false, true]) {
      const { err } = await lookup(guardedLookup({}, stub(address)), all)
      expect(err?.name).toBe('BlockedAddressError')
    }
  })

  it('fails when any one of several answers is blocked', async () => {
    const { err } = await lookup(guardedLookup({}, stub('8.8.8.8', '10.0.0.1')), true)
    expect(err?.name).toBe('BlockedAddressError')
  })

  it('passes public answers through in the shape asked for', async () => {
    expect(await lookup(guardedLookup({}, stub('8.8.8.8', '2607:f8b0::1')), true)).toEqual({
      err: null,
      result: [
        { address: '8.8.8.8', family: 4 },
        { address: '2607:f8b0::1', family: 6 },
      ],
    })
    expect(await lookup(guardedLookup({}, stub('8.8.8.8')), false)).toEqual({ err: null, result: { address: '8.8.8.8', family: 4 } })
  })

  it('keeps the agent from connecting to a loopback listener', async () => {
    let connections = 0
    const server = createServer((s) => {
      connections++
      s.destroy()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    const agent = createPushAgent({ resolve: stub('127.0.0.1') })
    const { request } = await import('node:https')
    const err = await new Promise<Error>((resolve) => {
      const req = request({ host: 'push.example', port, path: '/', method: 'POST', agent }, () => resolve(new Error('answered')))
      req.on('error', resolve)
      req.end()
    })
    agent.destroy()
    server.close()
    expect(err.name).toBe('BlockedAddressError')
    expect(connections).toBe(0)
  })
})
