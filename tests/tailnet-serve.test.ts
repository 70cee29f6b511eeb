import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readDevices } from '../server/store/index.js'
import { addSignedInDevice } from './support/device.js'
import { StubBin, sq, statusJson } from './support/stub-bin.js'

/*
 * The real server (startServer from dist/, mode 'tailnet') in a network
 * namespace, with a stand-in `tailscale` first on PATH, reached from a second
 * namespace over two links:
 *
 *   NS "machine": ts0 (veth, 100.101.102.103/10, as tailscale0)   lan0 (veth, 192.168.77.1/24)
 *                   |                                                |
 *   NS "peer":    ts1 (100.101.102.200/10, .201, .202)              eth0 (192.168.77.2/24)
 *                 policy route: from 192.168.77.2, 100.64.0.0/10 via 192.168.77.1 (the LAN)
 *
 * A veth, not a tun, carries the machine's 100.x address: a tun with no
 * process attached is NO-CARRIER, os.networkInterfaces() leaves it out, and
 * the server would rightly take it for userspace Tailscale and stay on loopback.
 * A client picks its source address with localAddress: .200 is alice's node,
 * .201 bob's, .202 one whois cannot name, 192.168.77.2 a LAN host that routes
 * the 100.x address to the machine over the LAN.
 */

const NAME = 'laptop.tail1234.ts.net' // the fixture certificate's subject and only SAN
const MACHINE_TS = '100.101.102.103'
const MACHINE_LAN = '192.168.77.1'
const LAN_HOST = '192.168.77.2'
const ALICE = '100.101.102.200'
const BOB = '100.101.102.201'
const NAMELESS = '100.101.102.202' // the stand-in's whois fails for it
const NS = `handoff-tsv-${process.pid}`
const PEER = `handoff-tsv-${process.pid}-peer`
const DIST = fileURLToPath(new URL('../dist/server/index.js', import.meta.url))
const FIXTURES = fileURLToPath(new URL('../server/net/fixtures/', import.meta.url))
const CERT = join(FIXTURES, 'test-only-laptop-2125.crt')
const KEY = join(FIXTURES, 'test-only-laptop-2125.key')

/** Why this test cannot run here, or undefined. Creates the machine namespace as the probe. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux-only (this is ${process.platform})`
  const probe = spawnSync('ip', ['netns', 'add', NS], { encoding: 'utf8' })
  // A missing `ip` is not a reason to skip: CI runs as root and must install iproute2.
  if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined
  if (probe.status !== 0) return `"ip netns add" failed (needs root or CAP_SYS_ADMIN): ${(probe.stderr || String(probe.error)).trim()}`
  return undefined
}

const skipReason = unavailable()
if (skipReason) process.stderr.write(`tailnet-serve.test.ts skipped: ${skipReason}\n`)

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new Error('the "ip" command is missing: install iproute2 (sudo apt-get install iproute2)')
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`)
  return r.stdout
}

// Absolute, so a child's env may hold a PATH without it.
const IP = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).stdout.trim() || 'ip'

/** Runs `cmd args...` inside namespace `ns` and returns its stdout. */
function inNs(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(IP, ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: 20_000, env }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} in ${ns}: ${err.message} ${stderr}`)) : resolve(stdout),
    )
  })
}

// The real server: prints what startServer returned, then runs until stdin ends.
// With "once" it closes at once (the fallback check).
const SERVER = `
const [dist, home, tmuxSocket, once] = process.argv.slice(2)
const { startServer } = await import(dist)
const server = await startServer({ port: 0, mode: 'tailnet', home, tmuxSocket, log: (line) => process.stderr.write(line + '\\n') })
const { mode, url, port, listening, notes } = server
process.stdout.write(JSON.stringify({ mode, url, port, listening, notes }) + '\\n')
const stop = async () => { await server.close(); process.exit(0) }
if (once === 'once') await stop()
process.stdin.resume()
process.stdin.on('end', stop)
`

// HTTPS GETs in turn, one connection each; prints one JSON array of results.
// connected: TCP got through; secure: the TLS handshake finished (fixture cert as CA, SNI the MagicDNS name).
const CLIENT = `
import { request } from 'node:https'
import { readFileSync } from 'node:fs'
const { address, port, caFile, servername, requests } = JSON.parse(process.argv[2])
const ca = readFileSync(caFile)
const one = (r) => new Promise((resolve) => {
  const seen = { connected: false, secure: false }
  const req = request({ host: address, port, localAddress: r.from, servername, ca, agent: false, path: r.path, headers: { host: r.host, ...r.headers }, timeout: 5000 }, (res) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (b) => (body += b))
    res.on('end', () => resolve({ ...seen, status: res.statusCode, body }))
  })
  req.on('socket', (s) => {
    s.once('connect', () => (seen.connected = true))
    s.once('secureConnect', () => (seen.secure = true))
  })
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
  req.on('error', (err) => resolve({ ...seen, error: err.code ?? err.message }))
  req.end()
})
const out = []
for (const r of requests) out.push(await one(r))
process.stdout.write(JSON.stringify(out) + '\\n')
`

interface Ask {
  from: string
  path: string
  /** The Host header; default NAME:PORT. */
  host?: string
  headers?: Record<string, string>
}
interface Answer {
  connected: boolean
  secure: boolean
  status?: number
  body?: string
  error?: string
}

const codeOf = (a: Answer | undefined): string | undefined => {
  try {
    return (JSON.parse(a?.body ?? '') as { error?: { code?: string } }).error?.code
  } catch {
    return undefined
  }
}

/** What the stand-in `tailscale` does: status, cert (copies the fixture) and whois by address. */
function tailscaleStandIn(): string {
  const whoisJson = (node: string, user: string) =>
    JSON.stringify({ Node: { Name: `${node}.tail1234.ts.net.`, ComputedName: node }, UserProfile: { LoginName: user, DisplayName: user } })
  return `
case "$1" in
  status) printf '%s\\n' ${sq(statusJson({ dnsName: `${NAME}.`, ips: [MACHINE_TS], certDomains: [NAME] }))} ;;
  cert)
    shift
    while [ $# -gt 0 ]; do
      case "$1" in
        --cert-file) c="$2"; shift 2 ;;
        --key-file) k="$2"; shift 2 ;;
        *) n="$1"; shift ;;
      esac
    done
    [ "$n" = ${sq(NAME)} ] || { echo "invalid domain $n" >&2; exit 1; }
    cat ${sq(CERT)} > "$c" && cat ${sq(KEY)} > "$k" ;;
  whois)
    for a in "$@"; do addr="$a"; done
    case "$addr" in
      ${ALICE}) printf '%s\\n' ${sq(whoisJson('alice-phone', 'alice@example.com'))} ;;
      ${BOB}) printf '%s\\n' ${sq(whoisJson('bob-laptop', 'bob@example.com'))} ;;
      ${NAMELESS}) echo 'failed to connect to local tailscaled' >&2; exit 1 ;;
      *) echo "peer not found: $addr" >&2; exit 1 ;;
    esac ;;
  *) echo "stand-in tailscale: unexpected $*" >&2; exit 2 ;;
esac`
}

describe.skipIf(skipReason !== undefined)('serving on the tailnet (real server, network namespaces)', () => {
  let dir: string | undefined
  let home: string
  let stubs: StubBin | undefined
  let server: ChildProcess | undefined
  let serverErr = ''
  let ready: { mode: string; url: string; port: number; listening: string[]; notes: string[] }
  const tmuxSocket = `handoff-test-${process.pid}-tsv`

  beforeAll(async () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npx tsc -p tsconfig.build.json" first`)
    dir = mkdtempSync(join(tmpdir(), 'handoff-tsv-'))
    home = join(dir, 'home')
    writeFileSync(join(dir, 'server.mjs'), SERVER)
    writeFileSync(join(dir, 'client.mjs'), CLIENT)
    stubs = new StubBin().add('tailscale', tailscaleStandIn())

    ip('netns', 'add', PEER)
    ip('-n', NS, 'link', 'set', 'lo', 'up')
    ip('-n', PEER, 'link', 'set', 'lo', 'up')
    ip('-n', NS, 'link', 'add', 'ts0', 'type', 'veth', 'peer', 'name', 'ts1', 'netns', PEER)
    ip('-n', NS, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', PEER)
    ip('-n', NS, 'addr', 'add', `${MACHINE_TS}/10`, 'dev', 'ts0')
    ip('-n', NS, 'addr', 'add', `${MACHINE_LAN}/24`, 'dev', 'lan0')
    for (const a of [ALICE, BOB, NAMELESS]) ip('-n', PEER, 'addr', 'add', `${a}/10`, 'dev', 'ts1')
    ip('-n', PEER, 'addr', 'add', `${LAN_HOST}/24`, 'dev', 'eth0')
    for (const l of ['ts0', 'lan0']) ip('-n', NS, 'link', 'set', l, 'up')
    for (const l of ['ts1', 'eth0']) ip('-n', PEER, 'link', 'set', l, 'up')
    // From its LAN address the peer is a LAN host: it routes 100.64.0.0/10 to the machine over the LAN.
    ip('-n', PEER, 'rule', 'add', 'from', LAN_HOST, 'lookup', '77', 'priority', '100')
    ip('-n', PEER, 'route', 'add', '100.64.0.0/10', 'via', MACHINE_LAN, 'dev', 'eth0', 'table', '77')

    server = spawn(IP, ['netns', 'exec', NS, process.execPath, join(dir, 'server.mjs'), pathToFileURL(DIST).href, home, tmuxSocket], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${stubs.dir}:${process.env.PATH ?? ''}` },
    })
    server.stderr?.on('data', (b: Buffer) => (serverErr += b.toString('utf8')))
    let out = ''
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server in ${NS} did not start within 20 s: ${serverErr}`)), 20_000)
      server?.stdout?.on('data', (b: Buffer) => {
        out += b.toString('utf8')
        const found = out.split('\n').find((l) => l.startsWith('{'))
        if (found) {
          clearTimeout(timer)
          resolve(found)
        }
      })
      server?.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`the server in ${NS} exited ${code}: ${serverErr}`))
      })
    })
    ready = JSON.parse(line) as typeof ready
  }, 40_000)

  afterAll(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise<void>((resolve) => server?.once('exit', () => resolve()))
      server.stdin?.end()
      const timer = setTimeout(() => server?.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
    spawnSync('tmux', ['-L', tmuxSocket, 'kill-server'])
    // Deleting a namespace removes its interfaces (both ends of both veth pairs).
    spawnSync('ip', ['netns', 'del', NS])
    spawnSync('ip', ['netns', 'del', PEER])
    stubs?.remove()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const origin = () => `https://${NAME}:${ready.port}`
  const ask = async (...requests: Ask[]): Promise<Answer[]> => {
    const spec = {
      address: MACHINE_TS,
      port: ready.port,
      caFile: CERT,
      servername: NAME,
      requests: requests.map((r) => ({ ...r, host: r.host ?? `${NAME}:${ready.port}` })),
    }
    return JSON.parse(await inNs(PEER, process.execPath, [join(dir ?? '', 'client.mjs'), JSON.stringify(spec)])) as Answer[]
  }
  const auditLines = (): { peer: string | null; node: string | null; result: string; reason: string | null }[] =>
    readFileSync(join(home, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { peer: string | null; node: string | null; result: string; reason: string | null })

  it('serves https://NAME:PORT on the Tailscale address alone (ss -ltnH, server.json)', async () => {
    expect(ready).toMatchObject({ mode: 'tailnet', url: origin(), listening: [`${MACHINE_TS}:${ready.port}`], notes: [] })
    const locals = (await inNs(NS, 'ss', ['-ltnH']))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.trim().split(/\s+/)[3] ?? '')
    expect(locals).toEqual([`${MACHINE_TS}:${ready.port}`])
    for (const other of ['0.0.0.0:', '*:', '[::]:', `${MACHINE_LAN}:`, '127.0.0.1:', '[::1]:']) {
      expect(locals.filter((l) => l.startsWith(other))).toEqual([])
    }
    const record = JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')) as { mode: string; url: string; listening: string[] }
    expect(record).toMatchObject({ mode: 'tailnet', url: origin(), listening: [`${MACHINE_TS}:${ready.port}`] })
    // The certificate came from `tailscale cert` for the MagicDNS name.
    expect(stubs?.calls('tailscale').filter((c) => c.startsWith('cert '))).toEqual([
      `cert --cert-file ${join(home, 'tls', `${NAME}.crt`)} --key-file ${join(home, 'tls', `${NAME}.key`)} ${NAME}`,
    ])
  })

  it('drops a LAN host that routes the 100.x address to the machine: TCP connects, then no TLS and no HTTP', async () => {
    // The network lets it through over the LAN link; only the peer check stops it.
    expect(ip('-n', PEER, 'route', 'get', MACHINE_TS, 'from', LAN_HOST)).toMatch(new RegExp(`via ${MACHINE_LAN.replace(/\./g, '\\.')} dev eth0`))
    const [plain, forged] = await ask(
      { from: LAN_HOST, path: '/api/health' },
      { from: LAN_HOST, path: '/api/health', headers: { 'X-Forwarded-For': ALICE, 'Tailscale-User-Login': 'alice@example.com' } },
    )
    for (const r of [plain, forged]) {
      expect(r).toMatchObject({ connected: true, secure: false })
      expect(r?.status).toBeUndefined()
      expect(r?.error).toMatch(/ECONNRESET|EPIPE|socket hang up/)
    }
    // Nothing listens on the LAN address at all.
    const [lanAddress] = JSON.parse(
      await inNs(PEER, process.execPath, [
        join(dir ?? '', 'client.mjs'),
        JSON.stringify({ address: MACHINE_LAN, port: ready.port, caFile: CERT, servername: NAME, requests: [{ from: LAN_HOST, path: '/api/health', host: `${NAME}:${ready.port}` }] }),
      ]),
    ) as Answer[]
    expect(lanAddress).toMatchObject({ connected: false, secure: false, error: 'ECONNREFUSED' })
  })

  it('answers a tailnet peer over TLS only for Host NAME:PORT (421 for the IP or localhost)', async () => {
    const [good, byIp, byLocalhost] = await ask(
      { from: ALICE, path: '/api/health' },
      { from: ALICE, path: '/api/health', host: `${MACHINE_TS}:${ready.port}` },
      { from: ALICE, path: '/api/health', host: `localhost:${ready.port}` },
    )
    expect(good).toMatchObject({ connected: true, secure: true, status: 200 })
    expect(JSON.parse(good?.body ?? '{}')).toMatchObject({ ok: true })
    for (const r of [byIp, byLocalhost]) {
      expect(r).toMatchObject({ secure: true, status: 421 })
      expect(codeOf(r)).toBe('HOST_NOT_ALLOWED')
    }
  })

  it('binds a device to the tailnet user it first signs in as; identity headers change nothing', async () => {
    const device = await addSignedInDevice(home, origin(), { name: 'alice phone' })
    const cookie = `__Host-handoff=${device.token}`
    const spoof = { 'X-Forwarded-For': ALICE, 'X-Real-IP': ALICE, 'Tailscale-User-Login': 'alice@example.com', 'Tailscale-User-Name': 'Alice' }
    const [none, httpName, alice, bob, bobSpoofing, aliceAgain] = await ask(
      { from: ALICE, path: '/api/sessions' },
      // Over HTTPS only the __Host- cookie is read.
      { from: ALICE, path: '/api/sessions', headers: { cookie: device.cookie } },
      { from: ALICE, path: '/api/sessions', headers: { cookie } },
      { from: BOB, path: '/api/sessions', headers: { cookie } },
      { from: BOB, path: '/api/sessions', headers: { cookie, ...spoof } },
      { from: ALICE, path: '/api/sessions', headers: { cookie } },
    )
    expect(none?.status).toBe(401)
    expect(codeOf(none)).toBe('NOT_SIGNED_IN')
    expect(httpName?.status).toBe(401)
    expect(alice?.status).toBe(200)
    expect(Array.isArray(JSON.parse(alice?.body ?? 'null'))).toBe(true)
    for (const r of [bob, bobSpoofing]) {
      expect(r?.status).toBe(401)
      expect(codeOf(r)).toBe('NOT_SIGNED_IN')
    }
    expect(aliceAgain?.status).toBe(200)
    const stored = (await readDevices(home)).find((d) => d.id === device.record.id)
    expect(stored).toMatchObject({ tailnetUser: 'alice@example.com', tailnetNode: 'alice-phone.tail1234.ts.net' })
    // The audit log names the real node and user behind bob's attempts, not the forged ones.
    const bobs = auditLines().filter((l) => l.peer === BOB)
    expect(bobs.length).toBeGreaterThanOrEqual(2)
    for (const l of bobs) expect(l).toMatchObject({ result: 'deny', node: 'bob-laptop.tail1234.ts.net (bob@example.com)' })
  })

  it('binds a fresh device to the user whois names, not the one a header claims', async () => {
    const device = await addSignedInDevice(home, origin(), { name: 'bob phone' })
    const cookie = `__Host-handoff=${device.token}`
    const [bob, alice] = await ask(
      { from: BOB, path: '/api/sessions', headers: { cookie, 'Tailscale-User-Login': 'alice@example.com', 'X-Forwarded-For': ALICE } },
      { from: ALICE, path: '/api/sessions', headers: { cookie } },
    )
    expect(bob?.status).toBe(200)
    expect(alice?.status).toBe(401)
    expect((await readDevices(home)).find((d) => d.id === device.record.id)).toMatchObject({ tailnetUser: 'bob@example.com' })
  })

  it('applies the same rules to terminal WebSocket upgrades: Host, tailnet user, whois', async () => {
    const device = await addSignedInDevice(home, origin(), { name: 'alice tablet' })
    const upgrade = (cookie: string) => ({
      cookie,
      origin: origin(),
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    })
    // A session that does not exist: a signed-in, allowed device gets as far as tmux and hears 404.
    const path = '/api/term/no-such-session/0?cols=80&rows=24'
    const cookie = `__Host-handoff=${device.token}`
    const [alice, wrongHost, bob, nameless] = await ask(
      { from: ALICE, path, headers: upgrade(cookie) },
      { from: ALICE, path, host: `${MACHINE_TS}:${ready.port}`, headers: upgrade(cookie) },
      { from: BOB, path, headers: { ...upgrade(cookie), 'Tailscale-User-Login': 'alice@example.com' } },
      { from: NAMELESS, path, headers: upgrade(cookie) },
    )
    expect(alice?.status).toBe(404)
    expect(codeOf(alice)).toBe('SESSION_NOT_FOUND')
    expect([wrongHost?.status, codeOf(wrongHost)]).toEqual([421, 'HOST_NOT_ALLOWED'])
    expect([bob?.status, codeOf(bob)]).toEqual([401, 'NOT_SIGNED_IN'])
    expect([nameless?.status, codeOf(nameless)]).toEqual([403, 'PEER_UNVERIFIED'])
  })

  it('refuses a tailnet peer that whois cannot name: 403 PEER_UNVERIFIED, whatever it sends', async () => {
    const device = await addSignedInDevice(home, origin(), { name: 'nameless' })
    const answers = await ask(
      { from: NAMELESS, path: '/api/health' },
      { from: NAMELESS, path: '/api/sessions', headers: { cookie: `__Host-handoff=${device.token}` } },
      { from: NAMELESS, path: '/api/sessions', headers: { cookie: `__Host-handoff=${device.token}`, 'Tailscale-User-Login': 'alice@example.com', 'X-Forwarded-For': ALICE } },
    )
    for (const r of answers) {
      expect(r).toMatchObject({ secure: true, status: 403 })
      expect(codeOf(r)).toBe('PEER_UNVERIFIED')
    }
    // The device was never bound to anyone.
    expect((await readDevices(home)).find((d) => d.id === device.record.id)).toMatchObject({ tailnetUser: null })
  })

  it('falls back to loopback, saying why, when no tailscale is on PATH', async () => {
    const bare = new StubBin() // an empty folder: PATH holds nothing else, so "not installed" is real
    const fallbackHome = join(dir ?? '', 'fallback-home')
    try {
      const out = await inNs(
        NS,
        process.execPath,
        [join(dir ?? '', 'server.mjs'), pathToFileURL(DIST).href, fallbackHome, `${tmuxSocket}-fallback`, 'once'],
        { ...process.env, PATH: bare.dir },
      )
      const r = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}') as typeof ready
      expect(r.mode).toBe('loopback')
      expect(r.url).toBe(`http://localhost:${r.port}`)
      expect(r.listening.length).toBeGreaterThan(0)
      for (const l of r.listening) expect([`127.0.0.1:${r.port}`, `[::1]:${r.port}`]).toContain(l)
      expect(r.notes).toHaveLength(1)
      expect(r.notes[0]).toMatch(/Tailscale is not installed/)
      expect(r.notes[0]).toMatch(/loopback/)
    } finally {
      bare.remove()
    }
  })
})

if (skipReason) {
  describe('serving on the tailnet (real server, network namespaces)', () => {
    it.skip(`skipped: ${skipReason}`, () => {})
  })
}
