/**
 * Writes argument arrays as one line for tmux's command parser, which is what
 * a control-mode client reads. Every argument comes out as exactly the string
 * given, whatever it holds: no `;`, `$VAR`, `~`, `{`, `#` comment or newline
 * in an argument can change the command. (Formats in `-F` arguments are still
 * expanded by the command, as with an argv; only our own constants go there.)
 */

// Bare words the parser takes as they are: no quotes, `$`, `~`, `#`, `%`, braces or `;`.
const BARE = /^[A-Za-z0-9_./:,=+@-]+$/
// Inside single quotes nothing is special but the closing quote and the end of the line.
const SINGLE_QUOTABLE = /^[^'\x00-\x1f\x7f]*$/u
const PLAIN_BYTE = /[A-Za-z0-9 _./:,=+-]/

/** One argument, quoted for tmux's parser so that it reads back exactly. */
export function quoteArgument(arg: string): string {
  if (BARE.test(arg)) return arg
  if (SINGLE_QUOTABLE.test(arg)) return `'${arg}'`
  // Double quotes with every other byte as an octal escape: controls, quotes, `$`, `\` and UTF-8 alike.
  let out = '"'
  for (const byte of Buffer.from(arg, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out += byte < 0x80 && PLAIN_BYTE.test(ch) ? ch : `\\${byte.toString(8).padStart(3, '0')}`
  }
  return `${out}"`
}

/** Several commands as one line: tmux runs them in turn and skips the rest after one fails. */
export function commandLine(commands: readonly (readonly string[])[]): string {
  return commands.map((args) => args.map(quoteArgument).join(' ')).join(' ; ')
}
