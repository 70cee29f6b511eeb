import { get } from 'node:https'
import { join } from 'node:path'
import type { ServerRecord } from '../server/index.js'
import { readJsonFile } from '../server/store/index.js'

export interface ServerState {
  /** The URL the server uses, or would use with the configured port. */
  url: string
  running: boolean
  record: ServerRecord | null
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Finds the running server from HANDOFF_HOME/server.json and asks it whether it answers. */
export async function serverState(home: string, port: number): Promise<ServerState> {
  const raw = (await readJsonFile(join(home, 'server.json')).catch(() => undefined)) as Partial<ServerRecord> | undefined
  const record = raw && typeof raw.port === 'number' && typeof raw.pid === 'number' && alive(raw.pid) ? (raw as ServerRecord) : null
  const url = record?.url ?? `http://localhost:${port}`
  const running = record?.mode === 'tailnet' ? await answersOnTailnet(record) : await answers(url)
  return { url, running, record }
}

const HEALTH_TIMEOUT_MS = 2_000

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) })).ok
  } catch {
    return false
  }
}

/**
 * Asks the server at the first address it listens on, under its own name:
 * this machine may not resolve its own MagicDNS name (MagicDNS off for the
 * host, a self-hosted control server) nor trust the user's own CA. The
 * certificate is not checked: the address is this machine's own, which the
 * kernel routes locally, and only the health answer is read.
 */
function answersOnTailnet(record: ServerRecord): Promise<boolean> {
  const listening = record.listening[0]
  if (listening === undefined) return Promise.resolve(false)
  const { hostname, port } = new URL(record.url)
  const address = listening.slice(0, listening.lastIndexOf(':')).replace(/^\[|\]$/g, '')
  return new Promise((resolve) => {
    const req = get(
      { host: address, port: Number(port), path: '/api/health', servername: hostname, headers: { host: `${hostname}:${port}` }, rejectUnauthorized: false, timeout: HEALTH_TIMEOUT_MS },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      },
    )
    req.once('error', () => resolve(false))
    req.once('timeout', () => req.destroy())
  })
}
