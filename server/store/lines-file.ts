import { rename, rm } from 'node:fs/promises'

/**
 * Rotates an append-only JSON-lines file (audit.jsonl, events.jsonl): the
 * rotated copies move up one (`rotated(1)` becomes `rotated(2)`…), the one
 * past `keep` goes, and the file becomes `rotated(1)`; with `keep` 0 it is
 * removed. The caller holds the file's lock and has decided it is full;
 * lines are appended with `appendStateFile`, one write each.
 */
export async function rotateLines(path: string, keep: number, rotated: (n: number) => string): Promise<void> {
  if (keep < 1) return rm(path, { force: true })
  await rm(rotated(keep), { force: true })
  for (let n = keep - 1; n >= 1; n--) {
    await rename(rotated(n), rotated(n + 1)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }
  await rename(path, rotated(1))
}
