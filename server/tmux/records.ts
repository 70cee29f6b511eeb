import { randomBytes } from 'node:crypto'
import { HandoffError } from '../errors.js'

/**
 * Builds a `-F` format from our own field list and parses tmux's answer back.
 *
 * Names, titles and paths may contain any character, newlines included, so
 * records and fields are split on markers carrying a fresh random nonce that
 * no value can predict. Only our constant field formats ever enter the format
 * string: user text never does (`#(...)` in a format runs a command).
 */
export function recordFormat<K extends string>(fields: Record<K, string>) {
  const nonce = randomBytes(8).toString('hex')
  const recordMark = `<<R${nonce}>>`
  const fieldMark = `<<F${nonce}>>`
  const keys = Object.keys(fields) as K[]
  const format = recordMark + keys.map((k) => fields[k]).join(fieldMark)
  const parse = (stdout: string): Record<K, string>[] =>
    stdout
      .split(recordMark)
      .slice(1)
      .map((raw) => {
        const values = raw.replace(/\n$/, '').split(fieldMark)
        if (values.length !== keys.length) {
          throw new HandoffError('TMUX_FAILED', 503, `tmux answered in an unexpected shape (${values.length} fields, expected ${keys.length})`)
        }
        return Object.fromEntries(keys.map((k, i) => [k, values[i] ?? ''])) as Record<K, string>
      })
  return { format, parse }
}
