export interface Disposable {
  dispose(): void
}

export const toDisposable = (dispose: () => void): Disposable => ({ dispose })

/**
 * Owns everything one lifetime created (after xterm.js's DisposableStore).
 * Disposes once, in reverse order of adding; a second call is a no-op, and
 * anything added after disposal is disposed at once.
 */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = []
  private disposed = false

  get isDisposed(): boolean {
    return this.disposed
  }

  add<T extends Disposable>(item: T): T {
    if (this.disposed) item.dispose()
    else this.items.push(item)
    return item
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    for (const item of this.items.splice(0).reverse()) {
      try {
        item.dispose()
      } catch {
        // One failing cleanup must not leak the rest.
      }
    }
  }
}
