import { randomBytes } from 'node:crypto'
import { chmod, link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { HandoffError } from '../errors.js'

/** `HANDOFF_HOME`, or `~/.handoff`: every file Handoff writes lives here. */
export const defaultHome = (env: NodeJS.ProcessEnv = process.env): string => env.HANDOFF_HOME || join(homedir(), '.handoff')

/** Creates the home folder 0700, and tightens it if it exists with looser bits. */
export async function ensureHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  const { mode } = await stat(home)
  if ((mode & 0o077) !== 0) await chmod(home, 0o700)
}

/**
 * Writes a file 0600 so that readers see the old or the new content, never a
 * mix: a temporary file in the same folder, flushed to disk, then renamed.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`)
  const file = await open(tmp, 'wx', 0o600)
  try {
    await file.writeFile(data)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncFolder(dirname(path))
}

// Flushes the rename itself, so a crash right after a write cannot bring the old file back.
async function syncFolder(dir: string): Promise<void> {
  let handle
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // Some platforms cannot open or fsync a folder; the rename is still atomic there.
  } finally {
    await handle?.close()
  }
}

/** Reads a JSON file: undefined when it does not exist, BAD_CONFIG naming the file when it is not JSON. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new HandoffError('BAD_CONFIG', 400, `${path} is not valid JSON; remove it or fix it by hand`)
  }
}

export const removeFile = (path: string): Promise<void> => rm(path, { force: true })

/**
 * A secret made once and never replaced (a signing key): returns `parse` of
 * the file's text, creating it 0600 with `make()` when missing. Two processes
 * creating it at once agree on one: it is written whole under a temporary name
 * and hard-linked into place, and link() fails where rename() would overwrite.
 * A loosened mode is tightened back to 0600 on every read.
 */
export async function loadSecretFile<T>(path: string, make: () => string, parse: (text: string) => T): Promise<T> {
  let text = await readSecret(path)
  if (text === undefined) {
    await ensureHome(dirname(path))
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.new`)
    try {
      await writeFileAtomic(tmp, make())
      await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err
      })
    } finally {
      await rm(tmp, { force: true })
    }
    text = await readSecret(path)
    if (text === undefined) throw new HandoffError('BAD_CONFIG', 500, `${path} disappeared while it was being created; run the command again`)
  }
  return parse(text)
}

async function readSecret(path: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const { mode } = await stat(path)
  if ((mode & 0o077) !== 0) await chmod(path, 0o600)
  return text
}
