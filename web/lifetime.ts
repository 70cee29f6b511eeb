/** Something that holds a resource until `dispose()` releases it. */
export interface Disposable {
  dispose(): void
}

/** Wraps a release function; calling `dispose()` twice releases once. */
export function toDisposable(release: () => void): Disposable {
  let released = false
  return {
    dispose() {
      if (released) return
      released = true
      release()
    },
  }
}

/**
 * Owns everything one lifetime created (a screen, a terminal, a socket) and
 * releases it all at once, newest first. `dispose()` is idempotent, and a
 * disposable added after it ran is disposed immediately, so a late callback
 * (a socket opening after the user left) cannot leak.
 */
export class DisposableStore implements Disposable {
  private readonly items = new Set<Disposable>()
  private disposed = false

  get isDisposed(): boolean {
    return this.disposed
  }

  add<T extends Disposable>(item: T): T {
    if (this.disposed) item.dispose()
    else this.items.add(item)
    return item
  }

  /** Runs `release` when the store is disposed. */
  defer(release: () => void): void {
    this.add(toDisposable(release))
  }

  /** Adds a DOM listener that is removed when the store is disposed. */
  listen<K extends keyof WindowEventMap>(
    target: Window,
    type: K,
    listener: (event: WindowEventMap[K]) => void,
  ): void
  listen(target: EventTarget, type: string, listener: (event: Event) => void, options?: AddEventListenerOptions): void
  listen(target: EventTarget, type: string, listener: (event: Event) => void, options?: AddEventListenerOptions): void {
    target.addEventListener(type, listener, options)
    this.defer(() => target.removeEventListener(type, listener, options))
  }

  /** A timeout that is cleared if the store is disposed first. */
  timeout(callback: () => void, ms: number): Disposable {
    const timer = toDisposable(() => {
      clearTimeout(handle)
      this.items.delete(timer)
    })
    const handle = setTimeout(() => {
      timer.dispose()
      callback()
    }, ms)
    return this.add(timer)
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    const items = [...this.items].reverse()
    this.items.clear()
    for (const item of items) item.dispose()
  }
}
