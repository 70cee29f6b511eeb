import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PrivateTmux } from '../../tests/support/tmux.js'
import { TmuxControl } from './connection.js'
import { LiveSessions, type SessionWithWindows } from './live.js'
import { tmuxSpawns } from './run.js'
import { Tmux } from './tmux.js'

let t: PrivateTmux
let control: TmuxControl
let tmux: Tmux
/** The real Tmux, with its lists counted: how many ran, and how many at once at most. */
let lists: { calls: number; running: number; mostAtOnce: number; listAll: Tmux['listAll'] }
let logged: string[]
let live: LiveSessions

beforeEach(() => {
  t = new PrivateTmux()
  control = new TmuxControl(t.socket, { idleMs: 200, client: { commandTimeoutMs: 1_000 } })
  tmux = new Tmux(control)
  lists = {
    calls: 0,
    running: 0,
    mostAtOnce: 0,
    listAll: async () => {
      lists.calls++
      lists.mostAtOnce = Math.max(lists.mostAtOnce, ++lists.running)
      try {
        return await tmux.listAll()
      } finally {
        lists.running--
      }
    },
  }
  logged = []
  live = new LiveSessions(control, lists, { retryMs: 100, log: (line) => logged.push(line) })
})
afterEach(() => {
  control.close()
  t.kill()
})

/** Every list a listener is called with, as `session:index.name` lines, and the unsubscribe. */
function listen(): { seen: string[][]; stop: () => void } {
  const seen: string[][] = []
  const stop = live.subscribe((all: readonly SessionWithWindows[]) =>
    seen.push(all.flatMap(({ session, windows }) => windows.map((w) => `${session.name}:${w.index}.${w.name}`))),
  )
  return { seen, stop }
}

const idle = () => expect.poll(() => lists.running).toBe(0)

/**
 * A session whose pane prints nothing and whose window keeps its name, so
 * nothing changes its list while a test counts; ready once `cat` runs.
 */
async function quietSession(name: string): Promise<void> {
  t.newSession(name, '-n', 'quiet', 'exec cat')
  await runsCat(`${name}:0.0`)
}

const runsCat = (pane: string) => expect.poll(() => t.run('display-message', '-p', '-t', pane, '#{pane_current_command}').trim()).toBe('cat')

describe('LiveSessions', () => {
  it('sends the list at once, then each change tmux reports, with no process per change', async () => {
    t.newSession('main', '-n', 'one')
    const { seen, stop } = listen()
    await expect.poll(() => seen.at(-1)).toEqual(['main:0.one'])
    const spawned = tmuxSpawns()
    t.run('new-window', '-d', '-t', 'main:1', '-n', 'two')
    await expect.poll(() => seen.at(-1)).toEqual(['main:0.one', 'main:1.two'])
    t.run('rename-window', '-t', 'main:1', 'renamed')
    await expect.poll(() => seen.at(-1)).toEqual(['main:0.one', 'main:1.renamed'])
    t.newSession('work', '-n', 'w')
    await expect.poll(() => seen.at(-1)).toEqual(['main:0.one', 'main:1.renamed', 'work:0.w'])
    t.run('kill-session', '-t', 'work')
    await expect.poll(() => seen.at(-1)).toEqual(['main:0.one', 'main:1.renamed'])
    expect(tmuxSpawns()).toBe(spawned)
    stop()
  })

  it('counts panes, and tells listeners nothing when a change leaves the list as it was', async () => {
    await quietSession('main')
    const panes: number[] = []
    const stop = live.subscribe((all) => panes.push(all[0]?.windows[0]?.panes ?? -1))
    await expect.poll(() => panes).toEqual([1])
    t.run('split-window', '-d', '-t', 'main:0', 'exec cat')
    await expect.poll(() => panes).toEqual([1, 2])
    await runsCat('main:0.1')
    await idle()
    const before = lists.calls
    // Another active pane: tmux reports a change, but both panes run cat in the same folder.
    t.run('select-pane', '-t', 'main:0.1')
    await expect.poll(() => lists.calls).toBeGreaterThan(before)
    await idle()
    expect(panes).toEqual([1, 2])
    stop()
  })

  it('never lists twice at once, and ends on the latest state after a burst of changes', async () => {
    t.newSession('main')
    const { seen, stop } = listen()
    await expect.poll(() => seen.length).toBe(1)
    for (let i = 1; i <= 8; i++) t.run('new-window', '-d', '-t', `main:${i}`, '-n', `w${i}`)
    await expect.poll(() => seen.at(-1)?.length).toBe(9)
    await idle()
    expect(lists.mostAtOnce).toBe(1)
    expect(seen.at(-1)?.at(-1)).toBe('main:8.w8')
    stop()
  })

  it('gives a later subscriber the latest list at once, without asking tmux again', async () => {
    await quietSession('main')
    const first = listen()
    await expect.poll(() => first.seen.length).toBe(1)
    const second = listen()
    expect(second.seen).toEqual([]) // not during subscribe: its unsubscribe is returned first
    // Within a microtask: no tmux answer can arrive that fast, so it is the list already known.
    await new Promise<void>((resolve) => queueMicrotask(resolve))
    expect(second.seen).toEqual([['main:0.quiet']])
    // One unsubscribe of two keeps the list live for the other.
    second.stop()
    t.run('new-window', '-d', '-t', 'main:1', '-n', 'more')
    await expect.poll(() => first.seen.at(-1)).toEqual(['main:0.quiet', 'main:1.more'])
    expect(second.seen).toHaveLength(1)
    first.stop()
  })

  it('lets tmux go after the last unsubscribe, and listens no more', async () => {
    t.newSession('main')
    const { seen, stop } = listen()
    await expect.poll(() => seen.length).toBe(1)
    expect(control.clientCount).toBe(1)
    stop()
    stop() // a second call changes nothing
    await expect.poll(() => control.clientCount).toBe(0)
    // Attached again for a command of our own: tmux reports the next change, and only we hear it.
    await tmux.listSessions()
    const calls = lists.calls
    let changes = 0
    const unlisten = control.onChange(() => changes++)
    t.run('new-window', '-d', '-t', 'main:1')
    await expect.poll(() => changes).toBeGreaterThan(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(lists.calls).toBe(calls)
    expect(seen).toHaveLength(1)
    unlisten()
  })

  it('logs a tmux error and keeps going: the list comes once tmux answers again', async () => {
    t.newSession('main')
    await tmux.listSessions() // a control client is attached: the hung server times its command out
    const pid = Number(t.run('display-message', '-p', '#{pid}').trim())
    process.kill(pid, 'SIGSTOP')
    let seen: string[][] = []
    let stop = (): void => {}
    try {
      ;({ seen, stop } = listen())
      await expect.poll(() => logged.join('\n'), { timeout: 5_000 }).toMatch(/live sessions list failed/)
      expect(seen).toEqual([])
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    await expect.poll(() => seen.at(-1), { timeout: 5_000 }).toEqual(['main:0.sh'])
    stop()
  })

  it('sends an empty list when tmux exits, and the sessions of the next server', async () => {
    t.newSession('main')
    const { seen, stop } = listen()
    await expect.poll(() => seen.at(-1)).toEqual(['main:0.sh'])
    t.kill()
    await expect.poll(() => seen.at(-1)).toEqual([])
    t.newSession('again')
    await expect.poll(() => seen.at(-1), { timeout: 10_000 }).toEqual(['again:0.sh'])
    stop()
  })
})
