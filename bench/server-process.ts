// The Handoff server in a process of its own, so the bench can read its memory
// and CPU apart from the client's. Usage: node server-process.js <tmux-socket> <home>.
// Prints {"port","pid","cookie"} as one JSON line on stdout once it listens.
// Then answers one line on stdin with one JSON line on stdout:
//   spawns  ->  {"spawns":N}  tmux processes this process has started so far
//               (one-shot commands and `tmux -C` control clients alike: tmuxSpawns()).
//   gc      ->  {"gc":true}   after a full, memory-reducing garbage collection (only
//               when started with --expose-gc), so memory readings count live memory.
// Stops on SIGTERM, SIGINT or when stdin closes (the bench died).
import { createInterface } from 'node:readline'
import v8 from 'node:v8'
import { startServer } from '../server/index.js'
import { tmuxSpawns } from '../server/tmux/index.js'
import { addSignedInDevice } from '../tests/support/device.js'

const [tmuxSocket, home] = process.argv.slice(2)
if (!tmuxSocket || !home) {
  process.stderr.write('usage: server-process.js <tmux-socket> <home>\n')
  process.exit(2)
}

const server = await startServer({
  port: 0,
  tmuxSocket,
  home,
  log: (line) => process.stderr.write(`server: ${line}\n`),
})
// The bench's terminals sign in as one paired phone with access to every session.
const { cookie } = await addSignedInDevice(home, server.url)
process.stdout.write(`${JSON.stringify({ port: server.port, pid: process.pid, cookie })}\n`)

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  void server.close().finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

function answer(request: string): Record<string, unknown> {
  if (request === 'spawns') return { spawns: tmuxSpawns() }
  if (request === 'gc') {
    const gc = (globalThis as { gc?: (options: object) => void }).gc
    if (!gc) return { error: 'gc needs the server process started with --expose-gc' }
    // As V8's memory reducer does once an idle process stops allocating: collect, and give the freed pages back.
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    return { gc: true }
  }
  if (request === 'heap') {
    // What the program holds, apart from compiled code and the allocator's slack: objects and buffers.
    const { heapUsed, external } = process.memoryUsage()
    const code = v8.getHeapSpaceStatistics().filter((s) => s.space_name.startsWith('code')).reduce((n, s) => n + s.space_used_size, 0)
    return { objectBytes: heapUsed - code + external }
  }
  return { error: `unknown request ${JSON.stringify(request.slice(0, 40))}; known: spawns, gc, heap` }
}

// Reading a line costs nothing while the bench sends none: no timer, no tmux.
const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  process.stdout.write(`${JSON.stringify(answer(line.trim()))}\n`)
})
lines.on('close', stop)
process.stdin.on('error', stop)
