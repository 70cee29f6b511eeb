import { h } from '../dom.js'
import { DisposableStore, type Disposable } from '../lifetime.js'
import type { TerminalTarget } from './socket.js'
import { fetchHistory } from './history.js'
import { parseSgr } from './sgr.js'
import { renderLines } from './styled-lines.js'

/**
 * Reader mode: the window's history and screen as native text the phone can
 * select, search and reflow, with colours kept. It reads over HTTP, so tmux's
 * window is never resized. Closing it reveals the live terminal as it was.
 */
export function openReader(parent: HTMLElement, target: TerminalTarget, lines: number, close: () => void): Disposable {
  const store = new DisposableStore()
  const text = h('div', { class: 'reader-text', 'data-testid': 'reader-text', tabindex: 0 }, 'Loading…')
  const query = h('input', { type: 'search', class: 'reader-query', 'data-testid': 'reader-query', placeholder: 'Search', enterkeyhint: 'search', 'aria-label': 'Search the history' })
  const count = h('span', { class: 'reader-count', 'data-testid': 'reader-count', 'aria-live': 'polite' })
  const prev = h('button', { type: 'button', 'data-testid': 'reader-prev', 'aria-label': 'Previous match' }, '↑')
  const next = h('button', { type: 'button', 'data-testid': 'reader-next', 'aria-label': 'Next match' }, '↓')
  const done = h('button', { type: 'button', class: 'quiet', 'data-testid': 'reader-close' }, 'Live ›')
  const panel = h(
    'section',
    { class: 'reader', 'data-testid': 'reader', 'aria-label': 'Reader' },
    h('div', { class: 'reader-bar' }, query, count, prev, next, done),
    text,
  )
  parent.append(panel)
  store.defer(() => panel.remove())
  store.defer(() => search.clear())
  // Keys go to the reader now, not to the terminal behind it.
  text.focus()
  store.listen(done, 'click', close)

  const search = new Search(text, count)
  store.listen(query, 'input', () => search.find(query.value))
  store.listen(query, 'keydown', (event) => {
    const key = event as KeyboardEvent
    if (key.key === 'Enter') {
      // The search starts at the newest match: Enter goes further back, Shift+Enter forward again.
      event.preventDefault()
      search.step(key.shiftKey ? 1 : -1)
    } else if (key.key === 'Escape') close()
  })
  store.listen(next, 'click', () => search.step(1))
  store.listen(prev, 'click', () => search.step(-1))

  fetchHistory(target, lines, true).then(
    (history) => {
      if (store.isDisposed) return
      text.replaceChildren(renderLines(parseSgr(history.replace(/\n+$/, ''))))
      // The newest output is where the live terminal was.
      text.scrollTop = text.scrollHeight
      if (query.value) search.find(query.value)
    },
    (error: unknown) => {
      if (store.isDisposed) return
      text.replaceChildren(h('p', { class: 'error' }, `Could not load the history: ${error instanceof Error ? error.message : String(error)}`))
    },
  )
  return store
}

/**
 * Case-insensitive search over the text nodes. Matches are painted with the
 * CSS Custom Highlight API, not the page's selection: moving the selection
 * would take the caret out of the search field after the first letter.
 */
class Search {
  private matches: Range[] = []
  private current = -1

  constructor(
    private readonly root: HTMLElement,
    private readonly count: HTMLElement,
  ) {}

  find(query: string): void {
    this.matches = []
    this.current = -1
    const needle = query.toLowerCase()
    if (needle) {
      // One line at a time: a match never spans two lines.
      for (const line of this.root.querySelectorAll<HTMLElement>('.reader-line')) {
        const nodes: { node: Text; start: number }[] = []
        let joined = ''
        const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT)
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          nodes.push({ node: node as Text, start: joined.length })
          joined += (node as Text).data
        }
        const haystack = joined.toLowerCase()
        for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) {
          const range = document.createRange()
          const [startNode, startOffset] = locate(nodes, at)
          const [endNode, endOffset] = locate(nodes, at + needle.length)
          range.setStart(startNode, startOffset)
          range.setEnd(endNode, endOffset)
          this.matches.push(range)
        }
      }
    }
    // Start from the newest match: the end of the history is where the user was.
    this.current = this.matches.length - 1
    this.show()
  }

  step(direction: 1 | -1): void {
    if (this.matches.length === 0) return
    this.current = (this.current + direction + this.matches.length) % this.matches.length
    this.show()
  }

  /** Removes the highlights (the reader closed). */
  clear(): void {
    highlights()?.delete('reader-match')
    highlights()?.delete('reader-current')
  }

  private show(): void {
    const range = this.matches[this.current]
    this.count.textContent = this.matches.length === 0 ? (this.root.textContent ? 'no match' : '') : `${this.current + 1}/${this.matches.length}`
    this.count.dataset.matches = String(this.matches.length)
    this.count.dataset.current = String(this.current + 1)
    const registry = highlights()
    if (registry && typeof Highlight === 'function') {
      registry.set('reader-match', new Highlight(...this.matches))
      registry.set('reader-current', range ? new Highlight(range) : new Highlight())
    }
    if (!range) return
    const line = range.startContainer.parentElement?.closest('.reader-line')
    line?.scrollIntoView({ block: 'center' })
    if (line instanceof HTMLElement) line.dataset.current = ''
    for (const other of this.root.querySelectorAll<HTMLElement>('.reader-line[data-current]')) if (other !== line) delete other.dataset.current
  }
}

/** The page's highlight registry, where the browser has one (Chromium 105+, Safari 17.2+). */
const highlights = (): HighlightRegistry | undefined => (typeof CSS !== 'undefined' && 'highlights' in CSS ? CSS.highlights : undefined)

function locate(nodes: { node: Text; start: number }[], offset: number): [Text, number] {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const entry = nodes[i]!
    if (offset >= entry.start) return [entry.node, Math.min(offset - entry.start, entry.node.data.length)]
  }
  return [nodes[0]!.node, 0]
}
