import type { Disposable } from '../lifetime.js'

/**
 * Acknowledge rendered output in batches of this many bytes. The server
 * pauses at 1 MiB unacknowledged and resumes below 256 KiB
 * (docs/protocol.md#flow-control), so 64 KiB keeps it streaming without an
 * ack frame per chunk.
 */
export const ACK_BATCH_BYTES = 64 * 1024

/**
 * A smaller remainder is acknowledged at most this late, so a short echo
 * does not sit unacknowledged until more output arrives.
 */
export const ACK_MAX_DELAY_MS = 50

/**
 * Keyboard input and pastes are sent in frames of at most this many bytes;
 * the server closes the socket (1009) on a message over 64 KiB.
 */
export const INPUT_FRAME_BYTES = 32 * 1024

/**
 * Counts output bytes the terminal has rendered and reports them through
 * `sendAck` in batches. One per socket: bytes rendered after `dispose()`
 * belonged to a socket that is gone and are not reported to its successor.
 */
export class AckBatcher implements Disposable {
  private unacked = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private disposed = false

  constructor(
    private readonly sendAck: (bytes: number) => void,
    private readonly batchBytes = ACK_BATCH_BYTES,
    private readonly maxDelayMs = ACK_MAX_DELAY_MS,
  ) {}

  rendered(bytes: number): void {
    if (this.disposed) return
    this.unacked += bytes
    if (this.unacked >= this.batchBytes) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs)
  }

  flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.disposed || this.unacked === 0) return
    const bytes = this.unacked
    this.unacked = 0
    this.sendAck(bytes)
  }

  dispose(): void {
    this.disposed = true
    clearTimeout(this.timer)
    this.timer = undefined
  }
}

/** Splits `bytes` into views of at most `maxBytes` each, without copying. */
export function* inputFrames(
  bytes: Uint8Array<ArrayBuffer>,
  maxBytes = INPUT_FRAME_BYTES,
): Generator<Uint8Array<ArrayBuffer>> {
  for (let start = 0; start < bytes.byteLength; start += maxBytes) {
    yield bytes.subarray(start, start + maxBytes)
  }
}

/**
 * xterm.js reports some input (mouse reports in X10 mode) as a "binary
 * string": one UTF-16 code unit per byte. Converts it to those bytes.
 */
export function bytesOfBinaryString(data: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(data.length)
  for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff
  return bytes
}
