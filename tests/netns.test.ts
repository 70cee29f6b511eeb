import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/*
 * The binding test of issue 4, in two network namespaces joined by a veth pair:
 *
 *   NS "machine": lo; ts0 (tun, 100.101.102.103/10, as tailscale0); lan0 (192.168.77.1/24)
 *   NS "lan":     eth0 (192.168.77.2/24), a route to 100.64.0.0/10 via 192.168.77.1
 *
 * A LAN host that routes the 100.x address to the machine reaches it (Linux
 * accepts packets for any local address on any interface), so listening on
 * the Tailscale address alone is not enough: the peer check must refuse it.
 * The server is the built listenAll and isAllowedPeer (dist/, from "npm run build").
 */

const TAILNET_IP = '100.101.102.103'
const LAN_IP = '192.168.77.1'
const LAN_PEER_IP = '192.168.77.2'
const NS = `handoff-test-${process.pid}`
const LAN = `handoff-test-${process.pid}-lan`
const DIST = fileURLToPath(new URL('../dist/server/net/tailnet.js', import.meta.url))

/** Why this test cannot run here, or undefined. Creates the first namespace as the probe. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux-only (this is ${process.platform})`
  const probe = spawnSync('ip', ['netns', 'add', NS], { encoding: 'utf8' })
  // A missing `ip` is not a reason to skip: CI runs as root and must install iproute2.
  if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined
  if (probe.status !== 0) return `"ip netns add" failed (needs root or CAP_SYS_ADMIN): ${(probe.stderr || String(probe.error)).trim()}`
  return undefined
}

const skipReason = unavailable()
if (skipReason) process.stderr.write(`netns.test.ts skipped: ${skipReason}\n`)

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new Error('the "ip" command is missing: install iproute2 (sudo apt-get install iproute2)')
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`)
}

/** Runs `cmd args...` inside namespace `ns` and returns its stdout. */
function inNs(ns: string, cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} in ${ns}: ${err.message} ${stderr}`)) : resolve(stdout),
    )
  })
}

// The tiny server: listenAll on the Tailscale address and loopback, closing every
// connection whose peer fails isAllowedPeer, as startServer will.
const SERVER = `
import { createServer } from 'node:http'
const { listenAll, isAllowedPeer } = await import(process.argv[2])
const refusedToBind = []
for (const address of ['0.0.0.0', '::', '${LAN_IP}']) {
  try {
    const r = await listenAll([address], 0, () => createServer())
    r.servers.forEach((s) => s.close())
    refusedToBind.push([address, 'BOUND'])
  } catch (err) {
    refusedToBind.push([address, err.code])
  }
}
const make = () => {
  const server = createServer((_req, res) => res.end('handoff'))
  server.on('connection', (socket) => {
    if (isAllowedPeer(socket.remoteAddress ?? '', 'tailnet')) return
    process.stdout.write(JSON.stringify({ refusedPeer: socket.remoteAddress }) + '\\n')
    socket.destroy()
  })
  return server
}
const { port, listening } = await listenAll(['${TAILNET_IP}', '127.0.0.1'], 0, make)
process.stdout.write(JSON.stringify({ port, listening, refusedToBind }) + '\\n')
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
`

// One HTTP GET; prints {"status":200,"body":"..."} or {"error":"ECONNRESET"}.
const CLIENT = `
import { request } from 'node:http'
const [host, port] = process.argv.slice(2)
const req = request({ host, port: Number(port), path: '/', timeout: 3000 }, (res) => {
  let body = ''
  res.on('data', (b) => (body += b))
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })))
})
req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })))
req.on('error', (err) => console.log(JSON.stringify({ error: err.code ?? err.message })))
req.end()
`

describe.skipIf(skipReason !== undefined)('binding in a network namespace', () => {
  let dir: string
  let server: ChildProcess | undefined
  let serverOut = ''
  let ready: { port: number; listening: string[]; refusedToBind: [string, string][] }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'handoff-netns-'))
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" first`)
    writeFileSync(join(dir, 'server.mjs'), SERVER)
    writeFileSync(join(dir, 'client.mjs'), CLIENT)

    ip('netns', 'add', LAN)
    ip('-n', NS, 'link', 'set', 'lo', 'up')
    ip('-n', LAN, 'link', 'set', 'lo', 'up')
    ip('-n', NS, 'tuntap', 'add', 'dev', 'ts0', 'mode', 'tun')
    ip('-n', NS, 'addr', 'add', `${TAILNET_IP}/10`, 'dev', 'ts0')
    ip('-n', NS, 'link', 'set', 'ts0', 'up')
    ip('-n', NS, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', LAN)
    ip('-n', NS, 'addr', 'add', `${LAN_IP}/24`, 'dev', 'lan0')
    ip('-n', NS, 'link', 'set', 'lan0', 'up')
    ip('-n', LAN, 'addr', 'add', `${LAN_PEER_IP}/24`, 'dev', 'eth0')
    ip('-n', LAN, 'link', 'set', 'eth0', 'up')
    ip('-n', LAN, 'route', 'add', '100.64.0.0/10', 'via', LAN_IP)

    server = spawn('ip', ['netns', 'exec', NS, process.execPath, join(dir, 'server.mjs'), pathToFileURL(DIST).href], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let err = ''
    server.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')))
    server.stdout?.on('data', (b: Buffer) => (serverOut += b.toString('utf8')))
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server in ${NS} did not start within 15 s: ${err}`)), 15_000)
      server?.stdout?.on('data', () => {
        const found = serverOut.split('\n').find((l) => l.includes('"listening"'))
        if (found) {
          clearTimeout(timer)
          resolve(found)
        }
      })
      server?.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`the server in ${NS} exited ${code}: ${err}`))
      })
    })
    ready = JSON.parse(line) as typeof ready
  })

  afterAll(() => {
    server?.stdin?.end()
    server?.kill('SIGKILL')
    // Deleting a namespace removes its interfaces (ts0 and both ends of the veth pair).
    spawnSync('ip', ['netns', 'del', NS])
    spawnSync('ip', ['netns', 'del', LAN])
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const get = async (ns: string, host: string): Promise<{ status?: number; body?: string; error?: string }> =>
    JSON.parse(await inNs(ns, process.execPath, [join(dir, 'client.mjs'), host, String(ready.port)])) as { status?: number; body?: string; error?: string }

  it('refuses to bind 0.0.0.0, :: and the LAN address', () => {
    expect(ready.refusedToBind).toEqual([
      ['0.0.0.0', 'BAD_CONFIG'],
      ['::', 'BAD_CONFIG'],
      [LAN_IP, 'BAD_CONFIG'],
    ])
  })

  it('listens on the 100.x address and loopback only (ss -ltnH in the namespace)', async () => {
    const locals = (await inNs(NS, 'ss', ['-ltnH']))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.trim().split(/\s+/)[3])
    expect(locals.sort()).toEqual([`${TAILNET_IP}:${ready.port}`, `127.0.0.1:${ready.port}`].sort())
    expect(locals.some((l) => l?.startsWith('0.0.0.0') || l?.startsWith('*') || l?.startsWith('[::]') || l?.startsWith(LAN_IP))).toBe(false)
  })

  it('answers on the 100.x address from the machine itself (the check is not closing everything)', async () => {
    expect(await get(NS, TAILNET_IP)).toEqual({ status: 200, body: 'handoff' })
  })

  it('gives a LAN peer that routes to the 100.x address no HTTP answer: the peer check closes it', async () => {
    const r = await get(LAN, TAILNET_IP)
    expect(r.status).toBeUndefined()
    expect(r.error).toMatch(/ECONNRESET|EPIPE|socket hang up/)
    await expect.poll(() => serverOut).toContain(JSON.stringify({ refusedPeer: LAN_PEER_IP }))
  })

  it('refuses a LAN peer connecting to the LAN address: nothing listens there', async () => {
    expect(await get(LAN, LAN_IP)).toEqual({ error: 'ECONNREFUSED' })
  })
})

if (skipReason) {
  describe('binding in a network namespace', () => {
    it.skip(`skipped: ${skipReason}`, () => {})
  })
}
