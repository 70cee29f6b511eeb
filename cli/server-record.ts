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
  let running = false
  try {
    const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2_000) })
    running = res.ok
  } catch {
    running = false
  }
  return { url, running, record }
}
