// The Handoff server in a process of its own, so the bench can read its memory
// apart from the client's. Usage: node server-process.js <tmux-socket> <home>.
// Prints {"port","pid","cookie"} as one JSON line on stdout once it listens; stops on
// SIGTERM, SIGINT or when stdin closes (the bench died).
import { startServer } from '../server/index.js'
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
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
