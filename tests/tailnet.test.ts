import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js'
import { PairCli } from './support/pair-cli.js'
import { VirtualAuthenticator } from './support/passkey.js'
import { collectProblems, type PageProblems } from './support/problems.js'
import { actAsShell } from './support/shell-plugins.js'
import { makeCertificate, requestThrough, tailnetUnavailable, TestTailnet, until, type Computer, type PhoneNode } from './support/tailnet.js'
import { PrivateTmux, tempHome } from './support/tmux.js'

/*
 * Handoff on a real tailnet (docs/tailnet.md, "The test tailnet"): the real
 * tailscaled and tailscale CLI on the computer, in its own network namespace;
 * `handoff serve` there, unchanged, finding its name and address with the real
 * CLI and naming peers with the real whois; a phone node (the shells' tsnet
 * bridge) whose CONNECT proxy lets headless Chromium open
 * https://computer.tailnet.test as a phone on the tailnet would; and a third
 * node of another tailnet user. The certificate is the user's own (`--cert`),
 * from a throwaway CA only this browser trusts.
 */

const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))
/** The shells' home screen, as the app carries it (npm run build). */
const SHELL_HOME = fileURLToPath(new URL('../dist/shell/', import.meta.url))
/** The port Handoff serves on by default, which the shells' discovery asks. */
const DEFAULT_PORT = 7438
const POLL = { timeout: 20_000, interval: 200 }
const SETUP_TIMEOUT_MS = 180_000
const TEST_TIMEOUT_MS = 90_000

const skipReason = tailnetUnavailable()
if (skipReason) process.stderr.write(`tailnet.test.ts skipped: ${skipReason}\n`)

let tailnet: TestTailnet
let computer: Computer
let phone: PhoneNode
let intruder: PhoneNode
let tmux: PrivateTmux
let home: string
let removeHome: () => void
let certDir: string
let cert: ReturnType<typeof makeCertificate>
let serve: ChildProcess
let serveOutput: () => string
let deskHome: string
let removeDeskHome: () => void
let deskServe: ChildProcess
let shellHome: { url: string; close(): Promise<void> }
let origin: string
let browser: Browser
let context: BrowserContext
let page: Page
const found: PageProblems = { problems: [], consoleErrors: [] }

/** What `handoff serve` recorded in HANDOFF_HOME/server.json. */
const serverRecord = () => JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')) as { url: string; port: number; listening: string[] }

/** The environment every handoff command on a computer gets: its HANDOFF_HOME, the test's tmux, the real tailscale CLI on PATH. */
const computerEnv = (on: Computer = computer, handoffHome = home): Record<string, string> => ({
  HANDOFF_HOME: handoffHome,
  HANDOFF_TMUX_SOCKET: tmux.socket,
  PATH: `${dirname(on.tailscaleBin)}:${process.env.PATH ?? ''}`,
})

/** `handoff serve --port 7438 --cert … --key …` on a computer, once it says where it serves. */
async function startHandoff(on: Computer, handoffHome: string, files: { cert: string; key: string }): Promise<{ process: ChildProcess; readonly output: string }> {
  const [file, ...args] = [...on.wrap, process.execPath, BIN, 'serve', '--port', String(DEFAULT_PORT), '--cert', files.cert, '--key', files.key]
  const child = spawn(file!, args, { env: { ...process.env, ...computerEnv(on, handoffHome) }, stdio: ['ignore', 'pipe', 'pipe'] })
  const started = { process: child, output: '' }
  child.stdout?.on('data', (c: Buffer) => (started.output += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (started.output += c.toString()))
  await until(() => /serving https:\/\//.test(started.output) || child.exitCode !== null, 30_000, () => `handoff serve did not start:\n${started.output}`)
  if (child.exitCode !== null) throw new Error(`handoff serve exited ${child.exitCode}:\n${started.output}`)
  return started
}

const devices = () => JSON.parse(readFileSync(join(home, 'devices.json'), 'utf8')) as { devices: { name: string; status: string; tailnetUser: string | null; tailnetNode: string | null; credential: { kind?: string } | null }[] }
const auditLines = () => readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
/**
 * Pairs the phone on `p` as `name` (session main) the way a user does:
 * `handoff pair` on the computer, the link opened on the phone, the code the
 * phone shows typed into the CLI.
 */
async function pairThrough(p: Page, name: string): Promise<void> {
  const cli = new PairCli(['--sessions', 'main', '--expires', '7d', '--name', name, '--read-write'], computerEnv(), computer.wrap)
  try {
    const link = new RegExp(`${origin.replace(/[.]/g, '\\.')}/pair#[A-Za-z0-9_~.%-]+`)
    await until(() => link.test(cli.text()) || cli.exitCode !== undefined, POLL.timeout, () => `handoff pair printed no link:\n${cli.text()}`)
    await p.goto(link.exec(cli.text())![0])
    await p.getByTestId('pair-create').click()
    await expect.poll(() => p.getByTestId('pair-code').count(), POLL).toBe(1)
    const code = (await p.getByTestId('pair-code').textContent())?.trim() ?? ''
    expect(code).toMatch(/^\d{6}$/)
    cli.type(`${code}\r`)
    expect(await cli.exited).toBe(0)
  } finally {
    cli.kill()
  }
}

const screenText = (p: Page) => p.locator('.xterm-rows').textContent()
const connectionState = (p: Page) => p.getByTestId('status').getAttribute('data-state')

describe.skipIf(skipReason)('Handoff on a real tailnet', () => {
  beforeAll(async () => {
    tailnet = new TestTailnet()
    await tailnet.start()
    computer = await tailnet.addComputer('computer')
    ;[phone, intruder] = await Promise.all([tailnet.addPhone('phone'), tailnet.addPhone('intruder')])

    tmux = new PrivateTmux()
    tmux.newSession('main', '/bin/sh')
    ;({ home, remove: removeHome } = tempHome())
    certDir = mkdtempSync(join(tmpdir(), 'handoff-ca-'))
    cert = makeCertificate(certDir, [`computer.${tailnet.domain}`])

    const main = await startHandoff(computer, home, cert)
    serve = main.process
    serveOutput = () => main.output
    origin = serverRecord().url
    // A second computer running Handoff, for the shells' home screen.
    const desk = await tailnet.addComputer('desk')
    ;({ home: deskHome, remove: removeDeskHome } = tempHome())
    deskServe = (await startHandoff(desk, deskHome, makeCertificate(certDir, [`desk.${tailnet.domain}`], { newKey: true }))).process
    shellHome = await serveFolder(SHELL_HOME)

    // The phone: Chromium whose every connection goes through the phone node, trusting the test CA alone.
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${cert.caSpki}`],
      // The shell's own pages (its home screen, here on localhost) do not go through the bridge.
      proxy: { server: `http://${phone.proxy}`, bypass: 'localhost' },
    })
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
    collectProblems(context, found)
    page = await context.newPage()
    await VirtualAuthenticator.attach(context, page)
  }, SETUP_TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await shellHome?.close()
    serve?.kill('SIGTERM')
    deskServe?.kill('SIGTERM')
    removeDeskHome?.()
    await tailnet?.stop()
    tmux?.kill()
    removeHome?.()
    if (certDir) rmSync(certDir, { recursive: true, force: true })
  }, 60_000)

  it('serves https://computer.tailnet.test on the Tailscale addresses only, found with the real tailscale CLI', () => {
    const ip = computer.tailscaleIp()
    const { url, port, listening } = serverRecord()
    expect(url).toBe(`https://computer.${tailnet.domain}:${port}`)
    expect(listening[0]).toBe(`${ip}:${port}`)
    expect(listening.every((l) => l.startsWith('100.') || l.startsWith('[fd7a:115c:a1e0:'))).toBe(true)
  })

  it(
    'pairs through handoff pair with a passkey and the typed code, binds the device to the phone node\'s tailnet user, and types into tmux',
    async () => {
      await pairThrough(page, 'tailnet-phone')

      // Signed in by itself, on the sessions list; bound, by the real whois, to the phone node's user.
      await expect.poll(() => page.getByTestId('session-main').count(), POLL).toBe(1)
      const [device] = devices().devices
      expect(device).toMatchObject({ name: 'tailnet-phone', status: 'active', tailnetUser: phone.user, tailnetNode: phone.name })

      await page.getByTestId('session-main').click()
      await page.getByTestId('window-0').click()
      await expect.poll(() => connectionState(page), POLL).toBe('live')
      await page.getByTestId('terminal').click()
      await page.keyboard.type('echo over-the-tailnet-$((6*7))')
      await page.keyboard.press('Enter')
      await expect.poll(() => tmux.capture('main:0'), POLL).toContain('over-the-tailnet-42')
      await expect.poll(() => screenText(page), POLL).toContain('over-the-tailnet-42')
      expect(found.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'refuses the phone\'s own cookie from a node of another tailnet user, and audits who asked',
    async () => {
      const [cookie] = await context.cookies(origin)
      expect(cookie?.name).toBe('__Host-handoff')
      const headers = { cookie: `${cookie!.name}=${cookie!.value}` }
      // The phone itself is let in; the same cookie from the intruder's node is nobody.
      expect((await requestThrough(phone.proxy, `${origin}/api/sessions`, readFileSync(cert.ca, 'utf8'), { headers })).status).toBe(200)
      const stolen = await requestThrough(intruder.proxy, `${origin}/api/sessions`, readFileSync(cert.ca, 'utf8'), { headers })
      expect(stolen.status).toBe(401)
      expect(JSON.parse(stolen.body)).toMatchObject({ error: { code: 'NOT_SIGNED_IN' } })
      await expect.poll(() => auditLines().some((e) => e.result === 'deny' && typeof e.node === 'string' && e.node.includes(intruder.name)), POLL).toBe(true)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'never lets the LAN in: nothing listens on the LAN address, and the 100.x address routed over the LAN is closed before TLS',
    async () => {
      const { port } = serverRecord()
      // A host on the computer's LAN (this namespace), straight at its LAN address.
      await expect(tcpOpen(computer.lanAddress, port)).rejects.toThrow(/ECONNREFUSED/)
      // A LAN host that routes the computer's 100.x address to it: TCP connects (Linux takes
      // packets for any of its addresses on any interface), then the server closes it unanswered.
      const ip = computer.tailscaleIp()
      execFileSync('ip', ['route', 'add', `${ip}/32`, 'via', computer.lanAddress])
      try {
        expect(await answerOf(ip, port)).toEqual({ connected: true, bytes: 0 })
      } finally {
        execFileSync('ip', ['route', 'del', `${ip}/32`])
      }
      // The phone's proxy reaches tailnet nodes only.
      await expect(requestThrough(phone.proxy, `https://${computer.lanAddress}:${port}/api/me`, readFileSync(cert.ca, 'utf8'))).rejects.toThrow(/403/)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'refuses to serve your own certificate when it is expired or for another name, saying how to fix it',
    () => {
      const bad = join(certDir, 'bad')
      const serveWith = (files: { cert: string; key: string }) => {
        const [file, ...args] = [...computer.wrap, process.execPath, BIN, 'serve', '--port', '0', '--cert', files.cert, '--key', files.key]
        const r = spawnSync(file!, args, { env: { ...process.env, ...computerEnv(computer, mkdtempSync(join(tmpdir(), 'handoff-bad-cert-'))) }, encoding: 'utf8', timeout: 30_000 })
        return { code: r.status, stderr: r.stderr }
      }
      const expired = serveWith(makeCertificate(bad, [`computer.${tailnet.domain}`], { days: -1 }))
      expect(expired.code).toBe(1)
      expect(expired.stderr).toMatch(/the certificate .* expired on .*; to fix: renew it for computer\.tailnet\.test/)
      const elsewhere = serveWith(makeCertificate(bad, [`desk.${tailnet.domain}`]))
      expect(elsewhere.code).toBe(1)
      expect(elsewhere.stderr).toMatch(/is for DNS:desk\.tailnet\.test, not for this machine's MagicDNS name computer\.tailnet\.test; to fix: make a certificate for computer\.tailnet\.test/)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'reloads the certificate when its files change, with no restart and no dropped terminal',
    async () => {
      const ca = readFileSync(cert.ca, 'utf8')
      const before = (await requestThrough(phone.proxy, `${origin}/api/health`, ca)).certSerial
      makeCertificate(certDir, [`computer.${tailnet.domain}`], { days: 60 })
      await expect.poll(async () => (await requestThrough(phone.proxy, `${origin}/api/health`, ca)).certSerial, POLL).not.toBe(before)
      expect(serveOutput()).toMatch(/certificate reloaded/)
      expect(await connectionState(page)).toBe('live')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'pairs and signs in a native shell with its device key through the bridge\'s proxy, opens a terminal, and loses it when revoked',
    async () => {
      const shell = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
      collectProblems(shell, found)
      await actAsShell(shell)
      const shellPage = await shell.newPage()
      await pairThrough(shellPage, 'shell-phone')
      await expect.poll(() => shellPage.getByTestId('session-main').count(), POLL).toBe(1)
      const device = devices().devices.find((d) => d.name === 'shell-phone')
      expect(device).toMatchObject({ status: 'active', tailnetUser: phone.user, credential: { kind: 'device-key' } })
      expect(auditLines().filter((e) => e.action === 'sign-in' && e.deviceName === 'shell-phone').map((e) => [e.result, e.reason])).toEqual([['allow', 'device key']])

      await shellPage.getByTestId('session-main').click()
      await shellPage.getByTestId('window-0').click()
      await expect.poll(() => connectionState(shellPage), POLL).toBe('live')
      await shellPage.getByTestId('terminal').click()
      await shellPage.keyboard.type('echo from-the-shell-$((6*7))')
      await shellPage.keyboard.press('Enter')
      await expect.poll(() => tmux.capture('main:0'), POLL).toContain('from-the-shell-42')
      // Revoked on the computer: the device-key device loses its open terminal like any other.
      const [file, ...args] = [...computer.wrap, process.execPath, BIN, 'devices', 'rm', 'shell-phone', '--json']
      execFileSync(file!, args, { env: { ...process.env, ...computerEnv() } })
      // The terminal ends at once and the app, asking what is left, is signed out.
      await expect.poll(() => shellPage.getByTestId('signin-button').count(), POLL).toBe(1)
      expect(new URL(shellPage.url()).pathname).toBe('/')
      await shell.close()
      expect(found.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'the shell\'s home screen lists both computers the tailnet has running Handoff, through the bridge, and opens each',
    async () => {
      const shell = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
      collectProblems(shell, found)
      await actAsShell(shell, { bridgeApi: phone.api })
      const home = await shell.newPage()
      const computers = [`computer.${tailnet.domain}`, `desk.${tailnet.domain}`]
      for (const name of computers) {
        await home.goto(shellHome.url)
        await expect.poll(() => home.getByTestId('bridge-status').getAttribute('data-state'), POLL).toBe('Running')
        await expect.poll(() => home.locator('[data-testid^="computer-"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-testid'))), POLL).toEqual(
          computers.map((n) => `computer-${n}`),
        )
        await home.getByTestId(`computer-${name}`).click()
        // The computer's own web app, at its own origin, through the bridge: not signed in there yet.
        await expect.poll(() => new URL(home.url()).origin, POLL).toBe(`https://${name}:${DEFAULT_PORT}`)
        await expect.poll(() => home.evaluate(() => document.title), POLL).toBe('Handoff')
        await expect.poll(() => home.getByTestId('signin-button').count(), POLL).toBe(1)
      }
      // Both are now the phone's own computers: listed first, without the "new" badge.
      await home.goto(shellHome.url)
      await expect.poll(() => home.locator('.badge.unseen').count(), POLL).toBe(0)
      await shell.close()
      expect(found.problems).toEqual([])
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'ends the phone\'s open terminal when its node\'s key expires, and lets the node in nowhere after',
    async () => {
      expect(await connectionState(page)).toBe('live')
      const [cookie] = await context.cookies(origin)
      const headers = { cookie: `${cookie!.name}=${cookie!.value}` }
      await tailnet.expire('phone')
      // The server names each open terminal's peer again every 5 s, and ends this one
      // (the phone, cut off from the tailnet, cannot even be told).
      await expect
        .poll(() => auditLines().some((e) => e.action === 'attach' && e.result === 'deny' && e.reason === 'PEER_UNVERIFIED' && e.peer === phone.ip), { timeout: 15_000, interval: 200 })
        .toBe(true)
      const ca = readFileSync(cert.ca, 'utf8')
      const after = await requestThrough(phone.proxy, `${origin}/api/sessions`, ca, { headers }).catch((err: unknown) => ({ status: String(err) }))
      expect(after.status).not.toBe(200)
    },
    TEST_TIMEOUT_MS,
  )

  // Last: the test control server stops telling a node that moved about others (tests/tailnet/control).
  it(
    'follows the computer\'s new Tailscale address: another node reaches it by name again',
    async () => {
      const { port } = serverRecord()
      const ca = readFileSync(cert.ca, 'utf8')
      await tailnet.moveTo('computer', '100.64.77.7')
      await expect.poll(() => computer.tailscaleIp(), POLL).toBe('100.64.77.7')
      // The server checks Tailscale's addresses every 10 s and listens on the new one, on the same port.
      await expect.poll(() => serveOutput().includes('now listening on 100.64.77.7'), { timeout: 30_000, interval: 500 }).toBe(true)
      await expect.poll(async () => (await requestThrough(intruder.proxy, `${origin}/api/health`, ca).catch(() => ({ status: 0 }))).status, { timeout: 30_000, interval: 500 }).toBe(200)
      // server.json, which handoff status reads, says so.
      expect(serverRecord().listening).toEqual([`100.64.77.7:${port}`, expect.stringMatching(/^\[fd7a:115c:a1e0:.*\]:\d+$/)])
    },
    TEST_TIMEOUT_MS,
  )
})

/** Connects, sends a TLS-looking first byte and reports what came back before the server closed. */
function answerOf(host: string, port: number): Promise<{ connected: boolean; bytes: number }> {
  return new Promise((resolve, reject) => {
    let connected = false
    let bytes = 0
    const socket: Socket = connect({ host, port, timeout: 5_000 })
    socket.once('connect', () => {
      connected = true
      socket.write(Buffer.from([0x16, 0x03, 0x01]))
    })
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length))
    socket.once('close', () => resolve({ connected, bytes }))
    socket.once('error', (err) => (connected ? undefined : reject(err)))
    socket.once('timeout', () => socket.destroy(new Error('no answer and no close within 5 s')))
  })
}

/** Opens a TCP connection and closes it; rejects with the socket's error (ECONNREFUSED). */
function tcpOpen(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port, timeout: 5_000 })
    socket.once('connect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('error', reject)
    socket.once('timeout', () => socket.destroy(new Error('timeout')))
  })
}

/** Serves a folder's files over http on localhost, as the shell's app serves its own pages. */
async function serveFolder(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const file = join(dir, path === '/' ? 'index.html' : path)
    if (!file.startsWith(dir)) return void res.writeHead(404).end()
    try {
      const body = readFileSync(file)
      res.writeHead(200, { 'content-type': types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://localhost:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) }
}
