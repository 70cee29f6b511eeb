import { execFile } from 'node:child_process'
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { eventsPath, startEventPipeline, type HandoffEvent } from '../server/events/index.js'
import { PrivateTmux, tempHome } from './support/tmux.js'

// The built CLI, run as a hook or script runs it (tests run after "npm run build").
const BIN = fileURLToPath(new URL('../bin/handoff.js', import.meta.url))

interface Result {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

let home: string
let removeHome: () => void
beforeEach(() => {
  ;({ home, remove: removeHome } = tempHome())
})
afterEach(() => removeHome())

/** Runs `handoff ...args` outside tmux (no TMUX, no TMUX_PANE), with this test's HANDOFF_HOME. */
function handoff(args: string[], extraEnv: Record<string, string> = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, HANDOFF_HOME: home, ...extraEnv }
  delete env.TMUX
  delete env.TMUX_PANE
  const started = performance.now()
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ code, stdout, stderr, ms: performance.now() - started })
    })
  })
}

const events = (): HandoffEvent[] =>
  existsSync(eventsPath(home))
    ? readFileSync(eventsPath(home), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as HandoffEvent)
    : []

describe('handoff notify', () => {
  it('appends one event, prints nothing, and exits 0 with no server running', async () => {
    const r = await handoff(['notify', '--type', 'stop', '--message', 'build done', '--title', 'make', '--cwd', '/src', '--source', 'make'])
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' })
    process.stderr.write(`handoff notify took ${r.ms.toFixed(0)} ms as a whole process (node start-up included)\n`)
    expect(events()).toEqual([{ id: 1, ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), type: 'stop', message: 'build done', title: 'make', cwd: '/src', source: 'make' }])
  })

  it('prints the event with --json', async () => {
    const r = await handoff(['notify', '--type', 'notify', '--message', 'hi', '--claude-session-id', 'abc', '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual(events()[0])
    expect(events()[0]).toMatchObject({ id: 1, claude_session_id: 'abc' })
  })

  it('records no tab outside tmux, and the tab given by flags', async () => {
    expect((await handoff(['notify', '--type', 'stop', '--message', 'a'])).code).toBe(0)
    expect((await handoff(['notify', '--type', 'stop', '--message', 'b', '--tmux-session', 'work', '--tmux-window', '3'])).code).toBe(0)
    const [a, b] = events()
    expect(a).not.toHaveProperty('tmux_session')
    expect(a).not.toHaveProperty('tmux_window')
    expect(b).toMatchObject({ tmux_session: 'work', tmux_window: 3 })
  })

  it('strips escape sequences and caps the message', async () => {
    expect((await handoff(['notify', '--type', 'error', '--message', `\u001b]0;pwned\u0007\u001b[31mfailed\u001b[0m ${'x'.repeat(2000)}`])).code).toBe(0)
    const [e] = events()
    expect(e!.message.startsWith('failed xxx')).toBe(true)
    expect([...e!.message]).toHaveLength(1000)
  })

  it.each([
    [['notify', '--message', 'm'], /--type/],
    [['notify', '--type', 'stop'], /--message/],
    [['notify', '--type', 'stop', '--message', 'm', '--colour', 'red'], /unknown option '--colour'/],
    [['notify', '--type', 'Not A Word', '--message', 'm'], /--type must be/],
    [['notify', '--type', 'stop', '--message', 'm', '--tmux-window', 'two'], /--tmux-window must be/],
  ])('refuses %j with a message and exit 2, writing nothing', async (args, message) => {
    const r = await handoff(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(events()).toEqual([])
  })

  it('records choices with a pane given by flag, keys spelled canonically, in order', async () => {
    const r = await handoff(['notify', '--type', 'notify', '--message', 'Deploy?', '--tmux-session', 'ops', '--tmux-window', '2', '--tmux-pane', '%7', '--choice', 'Yes=y<enter>', '--choice', 'No = n=no<Enter>', '--choice=Cancel=<Escape>', '--json'])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(events()[0]).toMatchObject({
      tmux_session: 'ops',
      tmux_window: 2,
      tmux_pane: '%7',
      choices: [
        { label: 'Yes', keys: 'y<Enter>' },
        { label: 'No', keys: ' n=no<Enter>' },
        { label: 'Cancel', keys: '<Esc>' },
      ],
    })
    expect(JSON.parse(r.stdout)).toEqual(events()[0])
  })

  it('leaves the choices out when no pane is known (outside tmux): no answer could reach anything', async () => {
    expect((await handoff(['notify', '--type', 'notify', '--message', 'm', '--tmux-session', 'ops', '--choice', 'Yes=1'])).code).toBe(0)
    expect(events()[0]).not.toHaveProperty('choices')
    expect(events()[0]).not.toHaveProperty('tmux_pane')
  })

  it.each([
    [['--choice', 'Yes'], /--choice must be LABEL=KEYS/],
    [['--choice', '=1'], /--choice needs a label/],
    [['--choice', '\u001b[0m=1'], /--choice needs a label/],
    [['--choice', 'Yes='], /keys must not be empty/],
    [['--choice', 'Yes=y\r'], /control character U\+000D/],
    [['--choice', 'Quit=\u001b:q'], /control character U\+001B/],
    [['--choice', 'Yes=<F13>'], /unknown key "<F13>"/],
    [['--choice', `Yes=${'y'.repeat(33)}`], /longer than 32/],
    [Array.from({ length: 7 }, (_, i) => ['--choice', `c${i}=${i}`]).flat(), /at most 6 --choice/],
    [['--tmux-pane', 'main:0.1'], /--tmux-pane must be a tmux pane id/],
  ])('refuses choices %j with a message and exit 2, writing nothing', async (flags, message) => {
    const r = await handoff(['notify', '--type', 'notify', '--message', 'm', '--tmux-pane', '%1', ...flags])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(events()).toEqual([])
  })

  it('refuses a bad HANDOFF_EVENTS_LOG_MAX_BYTES, naming it', async () => {
    const r = await handoff(['notify', '--type', 'stop', '--message', 'm'], { HANDOFF_EVENTS_LOG_MAX_BYTES: 'big' })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('HANDOFF_EVENTS_LOG_MAX_BYTES')
  })

  // 50 node start-ups at once: slow on a small shared machine, so a generous timeout (nothing here is timed).
  it('gives 50 concurrent processes 50 intact lines with 50 distinct, increasing ids', { timeout: 90_000 }, async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => handoff(['notify', '--type', 'custom', '--message', `writer ${i}`])))
    expect(results.map((r) => r.code)).toEqual(Array(50).fill(0))
    const raw = readFileSync(eventsPath(home), 'utf8')
    expect(raw.endsWith('\n')).toBe(true)
    const lines = raw.split('\n').filter((l) => l !== '')
    expect(lines).toHaveLength(50)
    const ids = lines.map((l) => (JSON.parse(l) as HandoffEvent).id) // each line parses: none interleaved
    expect(new Set(ids).size).toBe(50)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(lines.map((l) => (JSON.parse(l) as HandoffEvent).message)).size).toBe(50)
  })
})

describe('handoff notify inside tmux', () => {
  let tmux: PrivateTmux
  beforeEach(() => {
    tmux = new PrivateTmux()
  })
  afterEach(() => tmux.kill())

  /** Types a command into a pane of the private tmux server, as a user would. */
  const typeInto = (target: string, command: string) => {
    tmux.run('send-keys', '-t', target, '-l', command)
    tmux.run('send-keys', '-t', target, 'Enter')
  }
  const cli = (args: string) => `HANDOFF_HOME='${home}' '${process.execPath}' '${BIN}' notify ${args}`

  it("takes the session and window from the pane it runs in", async () => {
    tmux.newSession('agent box')
    tmux.run('new-window', '-t', 'agent box')
    typeInto('agent box:1', cli("--type notify --message 'waiting for you'"))
    await vi.waitFor(() => expect(events()).toHaveLength(1), { timeout: 15_000, interval: 50 })
    expect(events()[0]).toMatchObject({ type: 'notify', message: 'waiting for you', tmux_session: 'agent box', tmux_window: 1 })
  })

  it('keeps a session given by flag, and then does not guess its window', async () => {
    tmux.newSession('here')
    typeInto('here:0', cli('--type stop --message a --tmux-session elsewhere'))
    typeInto('here:0', cli('--type stop --message b --tmux-window 7'))
    await vi.waitFor(() => expect(events()).toHaveLength(2), { timeout: 15_000, interval: 50 })
    const [a, b] = events()
    expect(a).toMatchObject({ tmux_session: 'elsewhere' })
    expect(a).not.toHaveProperty('tmux_window')
    expect(b).toMatchObject({ tmux_session: 'here', tmux_window: 7 })
  })

  it('records its own pane, and the choices with it, only when the event is about its own tab', async () => {
    tmux.newSession('agent')
    tmux.run('new-window', '-t', 'agent')
    const here = tmux.run('display-message', '-p', '-t', 'agent:1', '#{pane_id}').trim()
    typeInto('agent:1', cli("--type notify --message asks --choice 'Yes=1' --choice 'No=<Esc>'"))
    await vi.waitFor(() => expect(events()).toHaveLength(1), { timeout: 15_000, interval: 50 })
    typeInto('agent:1', cli("--type notify --message elsewhere --tmux-window 0 --choice 'Yes=1'"))
    await vi.waitFor(() => expect(events()).toHaveLength(2), { timeout: 15_000, interval: 50 })
    const [asks, elsewhere] = events()
    expect(asks).toMatchObject({ tmux_session: 'agent', tmux_window: 1, tmux_pane: here, choices: [{ label: 'Yes', keys: '1' }, { label: 'No', keys: '<Esc>' }] })
    expect(elsewhere).toMatchObject({ tmux_session: 'agent', tmux_window: 0 })
    expect(elsewhere).not.toHaveProperty('tmux_pane')
    expect(elsewhere).not.toHaveProperty('choices')
  })

  it('records no tab when the pane cannot be asked about, and still exits 0', async () => {
    const r = await handoff(['notify', '--type', 'stop', '--message', 'm'], { TMUX: '/nonexistent/socket,1,0', TMUX_PANE: '%0' })
    expect(r.code).toBe(0)
    expect(events()[0]).not.toHaveProperty('tmux_session')
    const bad = await handoff(['notify', '--type', 'stop', '--message', 'm'], { TMUX: 'garbage', TMUX_PANE: '%0; kill-server' })
    expect(bad.code).toBe(0)
    expect(events()[1]).not.toHaveProperty('tmux_session')
  })
})

describe('other programs', () => {
  it('may append a line in the schema by hand, and the pipeline delivers it', async () => {
    const pipeline = await startEventPipeline(home, { log: () => {}, pollMs: 100 })
    try {
      const got: HandoffEvent[] = []
      pipeline.subscribe((e) => got.push(e))
      const line = { id: 1, ts: new Date().toISOString(), type: 'custom', message: 'nightly backup done', source: 'cron', tmux_session: 'ops', tmux_window: 0 }
      appendFileSync(join(home, 'events.jsonl'), `${JSON.stringify(line)}\n`)
      await vi.waitFor(() => expect(got).toEqual([line]), { timeout: 5_000, interval: 25 })
      // And handoff notify carries on past that id.
      expect((await handoff(['notify', '--type', 'stop', '--message', 'next', '--json'])).stdout).toContain('"id": 2')
      await vi.waitFor(() => expect(got.map((e) => e.id)).toEqual([1, 2]), { timeout: 5_000, interval: 25 })
    } finally {
      await pipeline.stop()
    }
  })
})
