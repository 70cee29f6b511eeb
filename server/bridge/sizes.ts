import type { Tmux } from '../tmux/index.js'

interface Claim {
  cols: number
  rows: number
}

/**
 * Which phones hold which window at their size (`size=fit`, once they
 * typed). The latest claim of a window wins; when the last one goes, the
 * window gets its own size back. Changes to one window run one at a time.
 */
export class SizeClaims {
  private readonly claims = new Map<string, Map<object, Claim>>()
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor(
    private readonly tmux: Tmux,
    private readonly log: (line: string) => void,
  ) {}

  /** `claimant` wants window `windowId` at `cols`×`rows`; resolves to whether tmux gave it (false: the user fixed its size). */
  claim(windowId: string, claimant: object, cols: number, rows: number): Promise<boolean> {
    let byClaimant = this.claims.get(windowId)
    if (!byClaimant) this.claims.set(windowId, (byClaimant = new Map()))
    // Re-inserting makes it the latest.
    byClaimant.delete(claimant)
    byClaimant.set(claimant, { cols, rows })
    return this.apply(windowId)
  }

  /** `claimant` lets go of window `windowId` (or of every window, without one). */
  release(claimant: object, windowId?: string): void {
    for (const [id, byClaimant] of this.claims) {
      if (windowId !== undefined && id !== windowId) continue
      if (byClaimant.delete(claimant)) void this.apply(id)
    }
  }

  holds(claimant: object, windowId: string): boolean {
    return this.claims.get(windowId)?.has(claimant) ?? false
  }

  private apply(windowId: string): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      const byClaimant = this.claims.get(windowId)
      const latest = byClaimant ? [...byClaimant.values()].at(-1) : undefined
      try {
        if (latest) return await this.tmux.claimSize(windowId, latest.cols, latest.rows)
        this.claims.delete(windowId)
        await this.tmux.releaseSize(windowId)
      } catch (err) {
        this.log(`tmux: window size of ${windowId}: ${err instanceof Error ? err.message : String(err)}`)
      }
      return false
    }
    const next = (this.queues.get(windowId) ?? Promise.resolve()).then(run)
    this.queues.set(windowId, next)
    void next.finally(() => {
      if (this.queues.get(windowId) === next) this.queues.delete(windowId)
    })
    return next
  }
}
