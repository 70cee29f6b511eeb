// The notification path of `npm run bench`: time from `handoff notify`
// starting to the event reaching a client of `GET /api/events` (the real
// server process), and to the push request reaching a push endpoint on
// loopback (the pipeline and the push sender in THIS process, because the
// real server refuses loopback push endpoints by design). Each is also timed
// from an in-process appendEvent, so the CLI's Node start-up shows apart.
// What each figure means: docs/performance.md#notifications.
import { execFile, spawn } from 'node:child_process'
import { createECDH, randomBytes, type ECDH } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { request, type ClientRequest } from 'node:http'
import { createServer, type Server } from 'node:https'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { appendEvent, startEventPipeline, type EventInput, type EventPipeline } from '../server/events/index.js'
import { loadVapidKeys, saveSubscription, startPushSender, type PushSender } from '../server/events/push/index.js'
import { addSignedInDevice } from '../tests/support/device.js'
import { cleanEnv, sleep } from './harness.js'

/** The targets, p50 from `handoff notify` starting. */
export const NOTIFY_TARGETS = {
  streamP50Ms: 100,
  pushP50Ms: 250,
} as const

export const NOTIFY_LIMITS = {
  /** Counted runs per path; each path also gets `warmupRuns` first that are not counted. */
  runs: 30,
  warmupRuns: 2,
  /** Pause between runs, so one run's trailing work (state writes, process exit) is not in the next. */
  gapMs: 50,
  /** One event that has not arrived after this long fails the bench. */
  arrivalTimeoutMs: 10_000,
} as const

/** The tab every bench event names (the device may see every session; it need not exist). */
const SESSION = 'bench'

const ece = createRequire(import.meta.url)('http_ece') as {
  decrypt(body: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: string }): Buffer
}

const CLI = fileURLToPath(new URL('../../bin/handoff.js', import.meta.url))

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? NaN
}

/** Arrival times by event message, for whoever waits on one. */
class Arrivals {
  private readonly waiting = new Map<string, (at: number) => void>()

  /** Resolves with the `performance.now()` at which `message` arrives; rejects after the timeout. */
  expect(message: string, where: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(message)
        reject(new Error(`event ${JSON.stringify(message)} did not reach ${where} within ${NOTIFY_LIMITS.arrivalTimeoutMs} ms`))
      }, NOTIFY_LIMITS.arrivalTimeoutMs)
      this.waiting.set(message, (at) => {
        clearTimeout(timer)
        resolve(at)
      })
    })
  }

  arrived(message: string, at: number): void {
    const done = this.waiting.get(message)
    this.waiting.delete(message)
    done?.(at)
  }
}

/** A signed-in client of `GET /api/events` on the server process (server-sent events over loopback). */
class EventStreamClient {
  readonly arrivals = new Arrivals()
  private readonly req: ClientRequest
  readonly ready: Promise<void>

  constructor(port: number, cookie: string) {
    let buffer = ''
    let isReady!: () => void
    let failed!: (err: Error) => void
    this.ready = new Promise((resolve, reject) => ((isReady = resolve), (failed = reject)))
    this.req = request(
      { host: '127.0.0.1', port, path: '/api/events', headers: { host: `localhost:${port}`, cookie, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          failed(new Error(`GET /api/events answered ${res.statusCode}; is the bench device signed in?`))
          res.resume()
          return
        }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          const at = performance.now()
          buffer += chunk
          let cut: number
          while ((cut = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, cut)
            buffer = buffer.slice(cut + 2)
            let event = 'message'
            let data = ''
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7)
              else if (line.startsWith('data: ')) data += line.slice(6)
            }
            if (event === 'ready') isReady()
            else if (event === 'message' && data !== '') this.arrivals.arrived((JSON.parse(data) as { message: string }).message, at)
          }
        })
      },
    )
    this.req.on('error', (err) => failed(err))
    this.req.end()
  }

  close(): void {
    this.req.destroy()
  }
}

/**
 * A stand-in push service: HTTPS on 127.0.0.1 with a certificate openssl makes
 * in `dir`. It records when each request has fully arrived, then decrypts it
 * (RFC 8291, with the subscription's private key, as the browser would) to
 * learn which event it carries.
 */
class PushEndpoint {
  readonly arrivals = new Arrivals()
  private constructor(
    private readonly server: Server,
    readonly cert: string,
    readonly port: number,
    readonly key: ECDH,
    readonly authSecret: string,
  ) {}

  static async start(dir: string): Promise<PushEndpoint> {
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=handoff-bench-push', '-addext', 'subjectAltName=IP:127.0.0.1',
    ]).catch((err: Error) => {
      throw new Error(`could not make the test push endpoint's certificate with openssl: ${err.message}`)
    })
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8')
    const tlsKey = await readFile(join(dir, 'key.pem'), 'utf8')
    const key = createECDH('prime256v1')
    key.generateKeys()
    const authSecret = randomBytes(16).toString('base64url')
    let endpoint: PushEndpoint | undefined
    const server = createServer({ key: tlsKey, cert }, (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const at = performance.now()
        res.writeHead(201).end()
        try {
          const payload = JSON.parse(ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: key, authSecret }).toString('utf8')) as { body: string }
          endpoint?.arrivals.arrived(payload.body, at)
        } catch (err) {
          process.stderr.write(`bench: the push endpoint could not decrypt a push: ${(err as Error).message}\n`)
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    endpoint = new PushEndpoint(server, cert, (server.address() as { port: number }).port, key, authSecret)
    return endpoint
  }

  stop(): void {
    this.server.closeAllConnections()
    this.server.close()
  }
}

/** Runs `handoff notify` in its own Node process; resolves with the time it exited. */
function notifyProcess(home: string, message: string): { t0: number; exited: Promise<number> } {
  const argv = [CLI, 'notify', '--type', 'notify', '--message', message, '--tmux-session', SESSION, '--tmux-window', '0']
  const t0 = performance.now()
  const child = spawn(process.execPath, argv, { env: cleanEnv({ HANDOFF_HOME: home }), stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      const at = performance.now()
      if (code === 0) resolve(at)
      else reject(new Error(`handoff notify exited ${code ?? signal}: ${stderr.trim()}`))
    })
  })
  return { t0, exited }
}

/** A bare `node -e 0` from spawn to exit: the floor under any Node CLI on this machine. */
async function bareNode(): Promise<number> {
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' })
    child.once('error', reject)
    child.once('exit', () => resolve())
  })
  return performance.now() - t0
}

const input = (message: string): EventInput => ({ type: 'notify', message, tmux_session: SESSION, tmux_window: 0 })

interface Sample {
  /** From the start to the arrival. */
  ms: number
  /** From the start until the writer was done: the CLI process's exit, or appendEvent's return. */
  writerMs: number
}

/** One event written by `via` into `home`, timed until `arrivals` sees it. */
async function sample(via: 'cli' | 'in-process', home: string, arrivals: Arrivals, where: string, message: string): Promise<Sample> {
  const arrived = arrivals.expect(message, where)
  if (via === 'cli') {
    const { t0, exited } = notifyProcess(home, message)
    const [at, exit] = await Promise.all([arrived, exited])
    return { ms: at - t0, writerMs: exit - t0 }
  }
  const t0 = performance.now()
  await appendEvent(home, input(message))
  const written = performance.now()
  return { ms: (await arrived) - t0, writerMs: written - t0 }
}

export interface PathStats {
  p50Ms: number
  p99Ms: number
  /** Median time until the writer was done (CLI exit, or appendEvent's return). */
  writerP50Ms: number
  /** The first warm-up run (the push's new TLS connection, cold caches). */
  firstMs: number
  samples: number
}

export interface NotifyResults {
  /** `handoff notify` / in-process appendEvent → a client of the server process's GET /api/events. */
  stream: { cli: PathStats; inProcess: PathStats }
  /** `handoff notify` / in-process appendEvent → the loopback push endpoint, pipeline and sender in the bench process. */
  push: { cli: PathStats; inProcess: PathStats }
  /** `node -e 0`, spawn to exit, median and p99. */
  bareNode: { p50Ms: number; p99Ms: number }
}

const stats = (all: readonly Sample[], warmup: number): PathStats => {
  const counted = all.slice(warmup)
  return {
    p50Ms: percentile(counted.map((s) => s.ms), 50),
    p99Ms: percentile(counted.map((s) => s.ms), 99),
    writerP50Ms: percentile(counted.map((s) => s.writerMs), 50),
    firstMs: all[0]?.ms ?? NaN,
    samples: counted.length,
  }
}

export interface NotifyBenchOptions {
  /** The bench server's port and HANDOFF_HOME, and the bench device's cookie. */
  port: number
  home: string
  cookie: string
  /** A folder for the push part's own HANDOFF_HOME and certificate; the caller removes it. */
  dir: string
  runs?: number
  log: (line: string) => void
}

/**
 * Measures the four paths, interleaved run by run (so load from elsewhere on
 * the machine hits each alike): CLI → stream, appendEvent → stream,
 * CLI → push, appendEvent → push; and a bare `node -e 0` per run.
 */
export async function measureNotify(options: NotifyBenchOptions): Promise<NotifyResults> {
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: the bench runs from a built checkout`)
  const runs = options.runs ?? NOTIFY_LIMITS.runs
  const warmup = NOTIFY_LIMITS.warmupRuns
  const pushHome = join(options.dir, 'push-home')
  const certDir = join(options.dir, 'push-cert')
  mkdirSync(pushHome, { recursive: true, mode: 0o700 })
  mkdirSync(certDir, { recursive: true, mode: 0o700 })

  let stream: EventStreamClient | undefined
  let endpoint: PushEndpoint | undefined
  let pipeline: EventPipeline | undefined
  let sender: PushSender | undefined
  try {
    stream = new EventStreamClient(options.port, options.cookie)
    await stream.ready

    // The push half: a device allowed every session, subscribed with a key pair the endpoint holds.
    endpoint = await PushEndpoint.start(certDir)
    const { record } = await addSignedInDevice(pushHome, 'http://localhost')
    await saveSubscription(pushHome, {
      deviceId: record.id,
      endpoint: `https://127.0.0.1:${endpoint.port}/push/bench`,
      p256dh: endpoint.key.getPublicKey().toString('base64url'),
      auth: endpoint.authSecret,
      private: false,
      createdAt: Date.now(),
    })
    pipeline = await startEventPipeline(pushHome, { log: options.log })
    sender = startPushSender({
      home: pushHome,
      vapid: await loadVapidKeys(pushHome),
      subject: 'mailto:handoff@localhost',
      subscribe: pipeline.subscribe,
      viewers: () => [],
      log: options.log,
      // As tests/push.test.ts: the one setting that lets a push reach loopback. The real server never sets it.
      allowLoopbackEndpointForTests: true,
      caForTests: endpoint.cert,
    })

    const samples = { streamCli: [] as Sample[], streamIn: [] as Sample[], pushCli: [] as Sample[], pushIn: [] as Sample[] }
    const bare: number[] = []
    const tag = `bench-${process.pid}`
    for (let i = 0; i < warmup + runs; i++) {
      samples.streamCli.push(await sample('cli', options.home, stream.arrivals, 'the event stream', `${tag}-sc-${i}`))
      await sleep(NOTIFY_LIMITS.gapMs)
      samples.streamIn.push(await sample('in-process', options.home, stream.arrivals, 'the event stream', `${tag}-si-${i}`))
      await sleep(NOTIFY_LIMITS.gapMs)
      samples.pushCli.push(await sample('cli', pushHome, endpoint.arrivals, 'the push endpoint', `${tag}-pc-${i}`))
      await sleep(NOTIFY_LIMITS.gapMs)
      samples.pushIn.push(await sample('in-process', pushHome, endpoint.arrivals, 'the push endpoint', `${tag}-pi-${i}`))
      await sleep(NOTIFY_LIMITS.gapMs)
      if (i >= warmup) bare.push(await bareNode())
      if ((i + 1) % 10 === 0) options.log(`notify: ${i + 1} of ${warmup + runs} runs`)
    }
    const results: NotifyResults = {
      stream: { cli: stats(samples.streamCli, warmup), inProcess: stats(samples.streamIn, warmup) },
      push: { cli: stats(samples.pushCli, warmup), inProcess: stats(samples.pushIn, warmup) },
      bareNode: { p50Ms: percentile(bare, 50), p99Ms: percentile(bare, 99) },
    }
    // Progress on stderr, so the figures survive a later section failing.
    const p50 = (x: { p50Ms: number; p99Ms: number }) => `${x.p50Ms.toFixed(1)}/${x.p99Ms.toFixed(1)} ms`
    options.log(
      `notify p50/p99: cli->stream ${p50(results.stream.cli)}, append->stream ${p50(results.stream.inProcess)}, ` +
        `cli->push ${p50(results.push.cli)}, append->push ${p50(results.push.inProcess)}, node -e 0 ${p50(results.bareNode)}`,
    )
    return results
  } finally {
    stream?.close()
    sender?.stop()
    await pipeline?.stop()
    endpoint?.stop()
  }
}

type Row = [string, string, string, string, string]

/** The table rows of the notification figures, in five columns (bench/run.ts adds an empty ratio column). */
export function notifyRows(r: NotifyResults): Row[] {
  const ms = (x: number) => `${x.toFixed(1)} ms`
  const verdict = (ok: boolean) => (ok ? 'pass' : 'MISS')
  const { stream: s, push: p } = r
  return [
    [
      'notify -> event stream, p50',
      ms(s.cli.p50Ms),
      `handoff notify exits at ${ms(s.cli.writerP50Ms)}`,
      `<= ${NOTIFY_TARGETS.streamP50Ms} ms`,
      verdict(s.cli.p50Ms <= NOTIFY_TARGETS.streamP50Ms),
    ],
    ['notify -> event stream, p99', ms(s.cli.p99Ms), `${s.cli.samples} runs`, '', ''],
    ['  appendEvent in-process -> stream, p50 / p99', `${ms(s.inProcess.p50Ms)} / ${ms(s.inProcess.p99Ms)}`, `append returns at ${ms(s.inProcess.writerP50Ms)}`, '', ''],
    ['  bare node -e 0, spawn to exit, p50 / p99', `${ms(r.bareNode.p50Ms)} / ${ms(r.bareNode.p99Ms)}`, '', '', ''],
    [
      'notify -> push endpoint, p50 (*)',
      ms(p.cli.p50Ms),
      `handoff notify exits at ${ms(p.cli.writerP50Ms)}`,
      `<= ${NOTIFY_TARGETS.pushP50Ms} ms`,
      verdict(p.cli.p50Ms <= NOTIFY_TARGETS.pushP50Ms),
    ],
    ['notify -> push endpoint, p99 (*)', ms(p.cli.p99Ms), `${p.cli.samples} runs; first (new TLS connection) ${ms(p.cli.firstMs)}`, '', ''],
    ['  appendEvent in-process -> push, p50 / p99 (*)', `${ms(p.inProcess.p50Ms)} / ${ms(p.inProcess.p99Ms)}`, `append returns at ${ms(p.inProcess.writerP50Ms)}`, '', ''],
  ]
}

/** Said under the table: the push rows do not go through the server process. */
export const NOTIFY_NOTE =
  '(*) push rows: the event pipeline and push sender run inside the bench process (allowLoopbackEndpointForTests, as tests/push.test.ts),\n' +
  '    not in the server process, which refuses loopback push endpoints by design; the endpoint is HTTPS on 127.0.0.1.\n'
