import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { chmod, link, lstat, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { HandoffError } from '../errors.js'

/** `HANDOFF_HOME`, or `~/.handoff`: every file Handoff writes lives here. */
export const defaultHome = (env: NodeJS.ProcessEnv = process.env): string => env.HANDOFF_HOME || join(homedir(), '.handoff')

const uid = (): number | undefined => process.getuid?.()

/**
 * Creates the home folder 0700, and tightens it if it exists with looser
 * bits. BAD_STATE, with the fix, when it is not a folder or not this user's:
 * another user's folder could hand us files they control.
 */
export async function ensureHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err // a file in its place: said below
  })
  const info = await stat(home)
  if (!info.isDirectory()) throw new HandoffError('BAD_STATE', 500, `${home} (HANDOFF_HOME) is not a folder; move it away or set HANDOFF_HOME to a folder of your own`)
  const me = uid()
  if (me !== undefined && info.uid !== me) {
    throw new HandoffError('BAD_STATE', 500, `${home} (HANDOFF_HOME) belongs to uid ${info.uid}, not to you (uid ${me}); use a folder of your own (HANDOFF_HOME), or give it to yourself: chown -R ${me} ${home}`)
  }
  if ((info.mode & 0o077) !== 0) await chmod(home, 0o700)
}

// Where the platform lacks O_NOFOLLOW (0), an lstat before the open stands in.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0
const OPEN_FLAGS = {
  read: constants.O_RDONLY | NOFOLLOW,
  append: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NOFOLLOW,
} as const

/** BAD_STATE for a state file that is not what Handoff wrote: a link, a folder, a device, someone else's. */
function notOurFile(path: string, what: string): HandoffError {
  return new HandoffError('BAD_STATE', 500, `${path} is ${what}; Handoff only uses regular files of its own under HANDOFF_HOME. Move it away (mv ${path} ${path}.bad), then try again`)
}

/**
 * Opens a file under HANDOFF_HOME for reading or appending (created 0600)
 * without following a link: a link, anything but a regular file, or a file
 * of another user is refused with BAD_STATE. ENOENT passes through for
 * `read`. Every state file is opened here, so none is ever read or written
 * through a link an attacker planted.
 */
export async function openStateFile(path: string, how: keyof typeof OPEN_FLAGS): Promise<FileHandle> {
  if (NOFOLLOW === 0) {
    const link = await lstat(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)))
    if (link?.isSymbolicLink()) throw notOurFile(path, 'a symbolic link')
  }
  let file: FileHandle
  try {
    file = await open(path, OPEN_FLAGS[how], 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw notOurFile(path, 'a symbolic link')
    throw err
  }
  try {
    const info = await file.stat()
    if (!info.isFile()) throw notOurFile(path, 'not a regular file')
    const me = uid()
    if (me !== undefined && info.uid !== me) throw notOurFile(path, `owned by uid ${info.uid}, not by you (uid ${me})`)
    return file
  } catch (err) {
    await file.close()
    throw err
  }
}

/**
 * A state file's text, or undefined when it does not exist; refused like
 * `openStateFile`. `tighten`: a mode looser than 0600 is set back (a secret).
 */
export async function readStateFile(path: string, options: { tighten?: boolean } = {}): Promise<string | undefined> {
  let file: FileHandle
  try {
    file = await openStateFile(path, 'read')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    if (options.tighten && ((await file.stat()).mode & 0o077) !== 0) await file.chmod(0o600)
    return await file.readFile('utf8')
  } finally {
    await file.close()
  }
}

/** Appends bytes to a state file with one O_APPEND write (created 0600); refused like `openStateFile`. */
export async function appendStateFile(path: string, bytes: Buffer): Promise<void> {
  const file = await openStateFile(path, 'append')
  try {
    const { bytesWritten } = await file.write(bytes, 0, bytes.length)
    if (bytesWritten !== bytes.length) {
      throw Object.assign(new Error(`short write: ${bytesWritten} of ${bytes.length} bytes`), { code: 'ENOSPC' })
    }
  } finally {
    await file.close()
  }
}

/**
 * Writes a file 0600 so that readers see the old or the new content, never a
 * mix: a temporary file in the same folder, flushed to disk, then renamed.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  // The rename would replace a planted link or folder silently: refuse what is not ours instead.
  const existing = await lstat(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)))
  if (existing?.isSymbolicLink()) throw notOurFile(path, 'a symbolic link')
  if (existing && !existing.isFile()) throw notOurFile(path, 'not a regular file')
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
  const text = await readStateFile(path)
  if (text === undefined) return undefined
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
  let text = await readStateFile(path, { tighten: true })
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
    text = await readStateFile(path, { tighten: true })
    if (text === undefined) throw new HandoffError('BAD_CONFIG', 500, `${path} disappeared while it was being created; run the command again`)
  }
  return parse(text)
}

