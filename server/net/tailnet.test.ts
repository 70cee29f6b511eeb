import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StubBin, sq, statusJson } from '../../tests/support/stub-bin.js'
import { HandoffError } from '../errors.js'
import {
  assertServableAddresses,
  createWhois,
  findTailnetIdentity,
  isAllowedPeer,
  isUserspaceTailscale,
  listenAll,
  parseTailscaleStatus,
  plainAddress,
  watchTailnetAddresses,
} from './tailnet.js'

describe('isAllowedPeer', () => {
  const cases: [string, boolean, boolean][] = [
    // address, tailnet mode, loopback mode
    ['100.64.0.0', true, false],
    ['100.64.0.1', true, false],
    ['100.101.102.103', true, false],
    ['100.127.255.255', true, false],
    ['100.63.255.255', false, false],
    ['100.128.0.0', false, false],
    ['::ffff:100.100.1.2', true, false],
    ['::ffff:6464:102', true, false],
    ['::FFFF:100.64.0.0', true, false],
    ['::ffff:100.63.255.255', false, false],
    ['::ffff:100.128.0.0', false, false],
    ['fd7a:115c:a1e0::', true, false],
    ['fd7a:115c:a1e0::1', true, false],
    ['fd7a:115c:a1e0:ffff:ffff:ffff:ffff:ffff', true, false],
    ['FD7A:115C:A1E0:AB12::1', true, false],
    ['fd7a:115c:a1e1::', false, false],
    ['fd7a:115c:a1df:ffff:ffff:ffff:ffff:ffff', false, false],
    ['fd7a:115c:a1e1::1', false, false],
    ['127.0.0.1', true, true],
    ['127.0.0.0', true, true],
    ['127.255.255.255', true, true],
    ['128.0.0.0', false, false],
    ['126.255.255.255', false, false],
    ['::ffff:127.0.0.1', true, true],
    ['::1', true, true],
    ['0:0:0:0:0:0:0:1', true, true],
    ['::2', false, false],
    ['::', false, false],
    ['0.0.0.0', false, false],
    ['192.168.1.20', false, false],
    ['10.0.0.5', false, false],
    ['172.16.0.1', false, false],
    ['::ffff:192.168.1.20', false, false],
    ['fe80::1', false, false],
    ['fe80::1%eth0', false, false],
    ['::100.100.1.2', false, false], // IPv4-compatible (deprecated), not mapped
    ['', false, false],
    ['localhost', false, false],
    ['100.64.0.1:443', false, false],
    ['100.64.0.1 ', false, false],
  ]
  it.each(cases)('%s: tailnet %s, loopback %s', (address, tailnet, loopback) => {
    expect(isAllowedPeer(address, 'tailnet')).toBe(tailnet)
    expect(isAllowedPeer(address, 'loopback')).toBe(loopback)
  })
})

describe('plainAddress', () => {
  it('unmaps IPv4-mapped IPv6 in both spellings and leaves others alone', () => {
    expect(plainAddress('::ffff:100.100.1.2')).toBe('100.100.1.2')
    expect(plainAddress('::ffff:6464:102')).toBe('100.100.1.2')
    expect(plainAddress('100.100.1.2')).toBe('100.100.1.2')
    expect(plainAddress('fd7a:115c:a1e0::1')).toBe('fd7a:115c:a1e0::1')
  })
})

describe('listenAll', () => {
  const open: { close: () => unknown }[] = []
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => new Promise((r) => (s as ReturnType<typeof createHttpServer>).close(r))))
  })

  const refused = ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '::0', '192.168.1.5', '10.0.0.1', '8.8.8.8', 'fe80::1', 'fe80::1%lo', '::ffff:100.64.0.1', '::ffff:127.0.0.1', 'fd7a:115c:a1e1::1', '100.128.0.1', 'localhost', '']
  it.each(refused)('refuses %j before binding anything', async (address) => {
    let created = 0
    const attempt = listenAll(['127.0.0.1', address], 0, () => {
      created++
      return createHttpServer()
    })
    await expect(attempt).rejects.toMatchObject({ code: 'BAD_CONFIG' })
    expect(created).toBe(0)
  })

  it('names the LAN when refusing every interface', () => {
    expect(() => assertServableAddresses(['0.0.0.0'])).toThrow(/every interface/)
    expect(() => assertServableAddresses(['::'])).toThrow(/every interface/)
    expect(() => assertServableAddresses([])).toThrow(HandoffError)
  })

  it('listens on loopback with one port picked by the first listen', async () => {
    const r = await listenAll(['127.0.0.1', '::1'], 0, () => createHttpServer((_q, s) => s.end('ok')))
    open.push(...r.servers)
    expect(r.port).toBeGreaterThan(0)
    expect(r.listening[0]).toBe(`127.0.0.1:${r.port}`)
    // ::1 is skipped on a machine without IPv6.
    if (r.servers.length === 2) expect(r.listening[1]).toBe(`[::1]:${r.port}`)
    for (const s of r.servers) {
      const a = s.address()
      expect(typeof a === 'object' && a?.port).toBe(r.port)
    }
    const res = await fetch(`http://127.0.0.1:${r.port}/`)
    expect(await res.text()).toBe('ok')
  })

  it('reports a taken port as PORT_IN_USE naming the port and --port', async () => {
    const taken = createTcpServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r))
    open.push(taken)
    const addr = taken.address()
    const port = typeof addr === 'object' && addr ? addr.port : 0
    const err = await listenAll(['127.0.0.1'], port, () => createHttpServer()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'PORT_IN_USE' })
    expect((err as Error).message).toContain(String(port))
    expect((err as Error).message).toContain('--port')
  })

  it('names a Tailscale address this machine does not have, and closes what it had opened', async () => {
    const servers: ReturnType<typeof createHttpServer>[] = []
    const err = await listenAll(['127.0.0.1', '100.127.254.253'], 0, () => {
      const s = createHttpServer()
      servers.push(s)
      return s
    }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'LISTEN_FAILED' })
    expect((err as Error).message).toContain('100.127.254.253')
    expect(servers[0]?.listening).toBe(false)
  })
})

describe('with a stand-in tailscale on PATH', () => {
  let stubs: StubBin
  let savedPath: string | undefined
  beforeEach(() => {
    stubs = new StubBin()
    savedPath = process.env.PATH
    process.env.PATH = stubs.dir
  })
  afterEach(() => {
    process.env.PATH = savedPath
    stubs.remove()
  })
  const tailscale = (status: string, whois = "printf '%s\\n' 'no match for IP:port' >&2; exit 1"): void =>
    void stubs.add('tailscale', `case "$1" in\n status) ${status};;\n whois) ${whois};;\n *) exit 2;;\nesac`)

  it('finds the full MagicDNS name and the addresses, IPv4 first', async () => {
    tailscale(`printf '%s\\n' ${sq(statusJson())}`)
    const id = await findTailnetIdentity('linux')
    expect(id).toEqual({
      ok: true,
      dnsName: 'laptop.tail1234.ts.net',
      addresses: ['100.101.102.103', 'fd7a:115c:a1e0::1234'],
      magicDnsSuffix: 'tail1234.ts.net',
      certDomains: ['laptop.tail1234.ts.net'],
    })
    expect(stubs.calls('tailscale')).toEqual(['status --json --peers=false'])
  })

  it('says Tailscale is not installed, with the install script for Linux', async () => {
    const id = await findTailnetIdentity('linux')
    expect(id).toMatchObject({ ok: false, code: 'TAILSCALE_NOT_INSTALLED' })
    expect(!id.ok && id.fix).toContain('https://tailscale.com/install.sh')
  })

  it('says the daemon is not running', async () => {
    tailscale(
      "printf '%s\\n' \"failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)\" >&2; exit 1",
    )
    const id = await findTailnetIdentity('linux')
    expect(id).toMatchObject({ ok: false, code: 'TAILSCALE_NOT_RUNNING' })
    expect(!id.ok && id.fix).toContain('tailscale up')
  })

  it('says logged out and stopped apart, each with tailscale up', async () => {
    tailscale(`printf '%s\\n' ${sq(statusJson({ state: 'NeedsLogin', dnsName: '', ips: [] }))}`)
    const loggedOut = await findTailnetIdentity('darwin')
    expect(loggedOut).toMatchObject({ ok: false, code: 'TAILSCALE_LOGGED_OUT', fix: 'sign in with: tailscale up' })
    tailscale(`printf '%s\\n' ${sq(statusJson({ state: 'Stopped' }))}`)
    expect(await findTailnetIdentity('linux')).toMatchObject({ ok: false, code: 'TAILSCALE_STOPPED', fix: 'connect with: sudo tailscale up' })
  })

  it('says MagicDNS is off, with where to turn it on', async () => {
    tailscale(`printf '%s\\n' ${sq(statusJson({ magicDns: false }))}`)
    const off = await findTailnetIdentity('linux')
    expect(off).toMatchObject({ ok: false, code: 'MAGICDNS_OFF' })
    expect(!off.ok && off.fix).toContain('login.tailscale.com/admin/dns')
    tailscale(`printf '%s\\n' ${sq(statusJson({ dnsName: '' }))}`)
    expect(await findTailnetIdentity('linux')).toMatchObject({ ok: false, code: 'MAGICDNS_OFF' })
  })

  it('whois names node and user, and asks tailscale once per address within the cache time', async () => {
    tailscale(
      'exit 1',
      `printf '%s\\n' ${sq(JSON.stringify({ Node: { Name: 'phone.tail1234.ts.net.', ComputedName: 'phone' }, UserProfile: { LoginName: 'me@example.com' } }))}`,
    )
    let now = 1_000
    const whois = createWhois({ now: () => now })
    expect(await whois('::ffff:100.100.1.2')).toEqual({ ok: true, node: 'phone.tail1234.ts.net', user: 'me@example.com' })
    expect(await whois('100.100.1.2')).toEqual({ ok: true, node: 'phone.tail1234.ts.net', user: 'me@example.com' })
    expect(stubs.calls('tailscale')).toEqual(['whois --json 100.100.1.2'])
    now += 30_001
    await whois('100.100.1.2')
    expect(stubs.calls('tailscale')).toHaveLength(2)
  })

  it('whois fails closed: unknown peer, no tailscale, broken output, non-tailnet address', async () => {
    tailscale('exit 1')
    const whois = createWhois()
    expect(await whois('100.100.1.3')).toMatchObject({ ok: false, code: 'WHOIS_NOT_FOUND' })
    stubs.add('tailscale', "printf '%s\\n' 'failed to connect to local tailscaled' >&2; exit 1")
    expect(await whois('100.100.1.3')).toMatchObject({ ok: false, code: 'WHOIS_UNAVAILABLE' })
    stubs.add('tailscale', "printf '%s\\n' '{\"Node\":null}'")
    expect(await whois('100.100.1.3')).toMatchObject({ ok: false, code: 'WHOIS_UNAVAILABLE' })
    expect(await whois('192.168.1.20')).toMatchObject({ ok: false, code: 'WHOIS_NOT_TAILNET' })
    expect(await whois('127.0.0.1')).toMatchObject({ ok: false, code: 'WHOIS_NOT_TAILNET' })
    expect(stubs.calls('tailscale').filter((c) => c.includes('192.168') || c.includes('127.0'))).toEqual([])
  })

  it('whois without tailscale is WHOIS_UNAVAILABLE', async () => {
    expect(await createWhois()('100.100.1.4')).toMatchObject({ ok: false, code: 'WHOIS_UNAVAILABLE' })
  })

  it('watchTailnetAddresses reports a changed set and nothing else', async () => {
    const file = `${stubs.dir}/status.json`
    const { writeFileSync } = await import('node:fs')
    writeFileSync(file, statusJson())
    // `read -r` and printf are builtins: no cat needed on this PATH.
    tailscale(`while IFS= read -r line || [ -n "$line" ]; do printf '%s\\n' "$line"; done < ${sq(file)}`)
    const seen: string[][] = []
    const stop = watchTailnetAddresses((a) => void seen.push(a), 20, { initial: ['100.101.102.103', 'fd7a:115c:a1e0::1234'] })
    try {
      await expect.poll(() => stubs.calls('tailscale').length).toBeGreaterThanOrEqual(2)
      expect(seen).toEqual([])
      writeFileSync(file, statusJson({ ips: ['100.101.102.104'] }))
      await expect.poll(() => seen).toEqual([['100.101.102.104']])
      writeFileSync(file, statusJson({ state: 'Stopped' }))
      await expect.poll(() => seen).toEqual([['100.101.102.104'], []])
    } finally {
      stop()
      stop()
    }
  })
})

describe('isUserspaceTailscale', () => {
  it('is true when no interface carries a Tailscale address', () => {
    const lo = { lo: [{ address: '127.0.0.1' }, { address: '::1' }], eth0: [{ address: '192.168.1.5' }] }
    expect(isUserspaceTailscale(['100.101.102.103', 'fd7a:115c:a1e0::1'], lo)).toBe(true)
    expect(isUserspaceTailscale(['100.101.102.103'], { ...lo, tailscale0: [{ address: '100.101.102.103' }] })).toBe(false)
    expect(isUserspaceTailscale([], lo)).toBe(false)
  })
})

describe('parseTailscaleStatus', () => {
  it('never takes the tailnet suffix, or a name outside it, as this machine', () => {
    expect(parseTailscaleStatus(statusJson({ dnsName: 'tail1234.ts.net.' }))).toMatchObject({ ok: false, code: 'TAILSCALE_FAILED' })
    expect(parseTailscaleStatus(statusJson({ dnsName: 'laptop.evil.example.' }))).toMatchObject({ ok: false, code: 'TAILSCALE_FAILED' })
    expect(parseTailscaleStatus(statusJson({ dnsName: '../x.tail1234.ts.net.' }))).toMatchObject({ ok: false, code: 'TAILSCALE_FAILED' })
  })

  it('refuses output that is not JSON, and a running machine without addresses', () => {
    expect(parseTailscaleStatus('oops')).toMatchObject({ ok: false, code: 'TAILSCALE_FAILED' })
    expect(parseTailscaleStatus(statusJson({ ips: ['192.168.1.2'] }))).toMatchObject({ ok: false, code: 'TAILSCALE_FAILED' })
  })
})
