/**
 * Keys a choice may press by name: tmux's own key names, so tmux encodes
 * each one as the pane's modes want it (an arrow is `ESC [ A` or `ESC O A`
 * depending on the program's cursor-key mode).
 */
export const NAMED_KEYS = ['Enter', 'Escape', 'Tab', 'BTab', 'Up', 'Down', 'Left', 'Right', 'Space', 'BSpace'] as const
export type NamedKey = (typeof NAMED_KEYS)[number]

/** What to send to a pane: text typed as it is, or one named key. */
export type KeyInput = { text: string } | { key: NamedKey }

/**
 * `send-keys -H`: each byte as a hex key, so tmux writes exactly these bytes
 * to the pane whatever its modes, and no key binding (the prefix) applies.
 */
export function sendBytesCommand(paneId: string, bytes: Uint8Array): string[] {
  return ['send-keys', '-H', '-t', paneId, ...Array.from(bytes, (b) => b.toString(16))]
}

/** The tmux commands that send `inputs` to pane `paneId` (`%5`), in order: text as exact bytes, named keys by name. */
export function sendKeysCommands(paneId: string, inputs: readonly KeyInput[]): string[][] {
  return inputs.map((input) =>
    'key' in input ? ['send-keys', '-t', paneId, input.key] : sendBytesCommand(paneId, new TextEncoder().encode(input.text)),
  )
}
