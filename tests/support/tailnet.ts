import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { fileURLToPath } from 'node:url'

/*
 * A whole tailnet on this machine, with real Tailscale (docs/tailnet.md, "The
 * test tailnet"):
 *
 *   root namespace:  control server + DERP + STUN on the first LAN's host side (tests/tailnet/control),
 *                    phone nodes: tsnet processes with a CONNECT proxy on loopback (tests/tailnet/node)
 *   a namespace per computer: the real tailscaled on a kernel TUN (tailscale0), the real
 *                    tailscale CLI, and whatever the test runs there (handoff serve)
 *
 * each computer joined to the root namespace by a veth pair, a LAN (a /30) of its own. The computer gets its own
 * /var/run/tailscale (a private mount namespace per command), so the CLI finds
 * its tailscaled where it always looks, and a tailscaled of this machine's own
 * is never touched. Needs root (network namespaces, TUN) and Go.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url))
/** Where `npm run build:go` puts the binaries built from go.mod's pinned tailscale.com. */
export const TAILNET_BIN = join(REPO, 'dist', 'tailnet')
const bin = (name: string) => join(TAILNET_BIN, name)

/** Why the test tailnet cannot run here, or undefined. */
export function tailnetUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `the test tailnet needs Linux network namespaces (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'the test tailnet needs root (network namespaces and a TUN device)'
  const built = spawnSync(bin('tailscaled'), ['--version'], { encoding: 'utf8' })
  if (built.error) return `the test tailnet is not built (${bin('tailscaled')}): run npm run build:go (needs Go)`
  return undefined
}

function run(file: string, args: readonly string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 30_000 })
  if (r.error) throw new Error(`${file} ${args.join(' ')}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`)
  return r.stdout
}

/** A child process that prints one JSON line when ready; stdin kept open, so it ends when this process does. */
class Child<T> {
  readonly ready: Promise<T>
  private readonly proc: ChildProcess
  private stderr = ''

  constructor(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TS_NO_LOGS_NO_SUPPORT: 'true', ...env } })
    this.proc.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-8_000)))
    this.ready = new Promise<T>((resolve, reject) => {
      let out = ''
      this.proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        const line = out.split('\n').find((l) => l.startsWith('{'))
        if (line) resolve(JSON.parse(line) as T)
      })
      this.proc.once('exit', (code) => reject(new Error(`${file} exited ${code} before it was ready:\n${this.stderr}`)))
      this.proc.once('error', reject)
    })
  }

  get log(): string {
    return this.stderr
  }

  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()))
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }
}

export interface ControlReady {
  control: string
  admin: string
  domain: string
}

export interface PhoneNode {
  /** `127.0.0.1:PORT`: the HTTP CONNECT proxy into the tailnet. */
  proxy: string
  /** `phone.tailnet.test` */
  name: string
  ip: string
  /** The tailnet user this node belongs to (each test node is its own user). */
  user: string
  /** `127.0.0.1:PORT`: the bridge's /status and /discover, as the shell's HandoffBridge plugin gives them. */
  api: string
  stop(): Promise<void>
}

export interface AdminNode {
  id: number
  hostname: string
  name: string
  addresses: string[]
}

/** The computer: a network namespace with tailscaled, where `command` runs things. */
export interface Computer {
  ns: string
  /** Its address on the LAN (the veth), which must never reach Handoff. */
  lanAddress: string
  /** Its Tailscale IPv4 address, as `tailscale ip -4` says now. */
  tailscaleIp(): string
  /** [file, ...args] that run `file args…` on the computer (prefix your command with it). */
  wrap: readonly string[]
  /** The real tailscale CLI's path (put its folder on PATH for handoff). */
  tailscaleBin: string
  /** Runs the real `tailscale …` on the computer and returns its stdout. */
  tailscale(...args: string[]): string
}

export class TestTailnet {
  private readonly children: Child<unknown>[] = []
  private readonly dir = mkdtempSync(join(tmpdir(), 'handoff-tailnet-'))
  private readonly id = `${process.pid % 10_000}`
  private readonly subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`
  /** One LAN (a veth pair, a /30) and one network namespace per computer. */
  private lans = 0
  private computers = 0
  private controlReady: ControlReady | undefined

  /** LAN `i`: the computer's namespace and its veth pair; the host side is this namespace. */
  private lan(i: number): { ns: string; host: string; computer: string; hostIp: string; computerIp: string } {
    return {
      ns: `hotn-${this.id}-${i}`,
      host: `hov${this.id}${i}a`,
      computer: `hov${this.id}${i}b`,
      hostIp: `${this.subnet}.${4 * i + 1}`,
      computerIp: `${this.subnet}.${4 * i + 2}`,
    }
  }

  /** Makes the next computer's namespace and the LAN to it; its default route leads here. */
  private addLan(): ReturnType<TestTailnet['lan']> {
    const lan = this.lan(this.lans++)
    run('ip', ['netns', 'add', lan.ns])
    run('ip', ['link', 'add', lan.host, 'type', 'veth', 'peer', 'name', lan.computer])
    run('ip', ['link', 'set', lan.computer, 'netns', lan.ns])
    run('ip', ['addr', 'add', `${lan.hostIp}/30`, 'dev', lan.host])
    run('ip', ['link', 'set', lan.host, 'up'])
    const inNs = (...args: string[]) => run('ip', ['netns', 'exec', lan.ns, ...args])
    inNs('ip', 'addr', 'add', `${lan.computerIp}/30`, 'dev', lan.computer)
    inNs('ip', 'link', 'set', lan.computer, 'up')
    inNs('ip', 'link', 'set', 'lo', 'up')
    inNs('ip', 'route', 'add', 'default', 'via', lan.hostIp)
    return lan
  }

  /** Starts the control server on the first LAN's host side, which every computer's default route reaches. */
  async start(): Promise<ControlReady> {
    const first = this.addLan()
    const control = new Child<ControlReady>(bin('control'), ['--listen', first.hostIp])
    this.children.push(control)
    this.controlReady = await control.ready
    return this.controlReady
  }

  private get control(): ControlReady {
    if (!this.controlReady) throw new Error('start() the tailnet first')
    return this.controlReady
  }

  get domain(): string {
    return this.control.domain
  }

  /** A computer node: tailscaled in a namespace of its own, logged in as `hostname`. */
  async addComputer(hostname: string): Promise<Computer> {
    // The first computer takes the LAN start() made for the control server.
    const lan = this.computers++ === 0 ? this.lan(0) : this.addLan()
    const runDir = join(this.dir, `${hostname}-run`)
    const stateDir = join(this.dir, `${hostname}-state`)
    mkdirSync(runDir, { recursive: true })
    mkdirSync(stateDir, { recursive: true })
    // The mount point must exist; in the computer's mount namespace it is runDir.
    mkdirSync('/var/run/tailscale', { recursive: true })
    const wrap = [
      'ip', 'netns', 'exec', lan.ns,
      'unshare', '--mount', '--propagation', 'private',
      'sh', '-c', 'mount --bind "$1" /var/run/tailscale && shift && exec "$@"', 'sh', runDir,
    ] as const
    const daemon = new Child<never>(wrap[0], [
      ...wrap.slice(1),
      bin('tailscaled'), `--statedir=${stateDir}`, '--socket=/var/run/tailscale/tailscaled.sock', '--tun=tailscale0', '--port=0', '--no-logs-no-support',
    ])
    daemon.ready.catch(() => {})
    this.children.push(daemon as Child<unknown>)
    const tailscale = (...args: string[]) => run(wrap[0], [...wrap.slice(1), bin('tailscale'), ...args])
    await until(() => {
      try {
        tailscale('status', '--json')
        return true
      } catch {
        return false
      }
    }, 20_000, () => `tailscaled did not start:\n${daemon.log}`)
    tailscale('up', `--login-server=${this.control.control}`, `--hostname=${hostname}`, '--accept-dns=false', '--netfilter-mode=off', '--timeout=60s')
    return {
      ns: lan.ns,
      lanAddress: lan.computerIp,
      tailscaleIp: () => tailscale('ip', '-4').trim(),
      wrap,
      tailscaleBin: bin('tailscale'),
      tailscale,
    }
  }

  /** A phone node (its own process and tailnet user) with its proxy, and the bridge's /status and /discover on `api`. */
  async addPhone(hostname: string): Promise<PhoneNode> {
    const state = join(this.dir, `node-${hostname}`)
    const child = new Child<Omit<PhoneNode, 'stop'>>(bin('node'), ['--control', this.control.control, '--hostname', hostname, '--state', state, '--api'])
    this.children.push(child as Child<unknown>)
    return { ...(await child.ready), stop: () => child.stop() }
  }

  /** The tailnet's nodes, as its admin sees them. */
  async nodes(): Promise<AdminNode[]> {
    return (await (await fetch(`${this.control.admin}/nodes`)).json()) as AdminNode[]
  }

  /** Expires the key of the node named `hostname` now, as an admin would. */
  async expire(hostname: string): Promise<void> {
    await this.admin(`/expire?host=${encodeURIComponent(hostname)}`)
  }

  /** Gives the node named `hostname` a new Tailscale IPv4 address (100.64.0.0/10). */
  async moveTo(hostname: string, ip: string): Promise<void> {
    await this.admin(`/address?host=${encodeURIComponent(hostname)}&ip=${encodeURIComponent(ip)}`)
  }

  private async admin(path: string): Promise<void> {
    const r = await fetch(`${this.control.admin}${path}`, { method: 'POST' })
    if (!r.ok) throw new Error(`control admin ${path}: ${r.status} ${await r.text()}`)
  }

  /** Stops every node and the control server, and removes the namespace, the LAN and the state. */
  async stop(): Promise<void> {
    for (const child of this.children.reverse()) await child.stop()
    for (let i = 0; i < this.lans; i++) {
      spawnSync('ip', ['netns', 'del', this.lan(i).ns])
      spawnSync('ip', ['link', 'del', this.lan(i).host])
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Polls `ok` every 100 ms until true, or throws `why()` after `ms`. */
export async function until(ok: () => boolean | Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(why())
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface ProxiedResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** The server certificate's serial number, as the TLS handshake showed it. */
  certSerial: string
}

/**
 * One HTTPS request through a phone node's CONNECT proxy, as a browser on
 * that node would send it, trusting only `ca` (PEM).
 */
export async function requestThrough(
  proxy: string,
  url: string,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<ProxiedResponse> {
  const target = new URL(url)
  const [proxyHost, proxyPort] = proxy.split(':') as [string, string]
  const tunnel = await new Promise<Socket>((resolve, reject) => {
    const req = httpRequest({ host: proxyHost, port: Number(proxyPort), method: 'CONNECT', path: `${target.hostname}:${target.port || 443}`, timeout: 20_000 })
    req.once('connect', (res, socket) => (res.statusCode === 200 ? resolve(socket) : reject(new Error(`proxy refused CONNECT: ${res.statusCode}`))))
    req.once('error', reject)
    req.once('timeout', () => req.destroy(new Error('proxy CONNECT timed out')))
    req.end()
  })
  const tls = connect({ socket: tunnel, servername: target.hostname, ca })
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', () => resolve())
    tls.once('error', reject)
  })
  const certSerial = tls.getPeerCertificate().serialNumber
  return new Promise<ProxiedResponse>((resolve, reject) => {
    // HTTP over the TLS connection made above: the host is never looked up here.
    const req = httpRequest(
      { path: `${target.pathname}${target.search}`, method: init.method ?? 'GET', headers: { host: target.host, ...init.headers }, createConnection: () => tls },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, certSerial }))
      },
    )
    req.once('error', reject)
    req.end(init.body)
  })
}

/** Makes (or remakes) a certificate for `names` signed by the throwaway CA in `dir` (tests/tailnet/testca). */
export function makeCertificate(dir: string, names: string[], options: { days?: number; newKey?: boolean } = {}): { cert: string; key: string; ca: string; caSpki: string } {
  const args = ['--dir', dir, ...names.flatMap((n) => ['--name', n]), '--days', String(options.days ?? 30), ...(options.newKey ? ['--new-key'] : [])]
  return JSON.parse(run(bin('testca'), args)) as { cert: string; key: string; ca: string; caSpki: string }
}
