import { cssColor, type Line, type RunStyle } from './sgr.js'

/** Builds the lines as spans of text nodes; styles go through the CSSOM, never markup. */
export function renderLines(lines: Line[]): DocumentFragment {
  const fragment = document.createDocumentFragment()
  for (const line of lines) {
    const div = document.createElement('div')
    div.className = 'reader-line'
    for (const run of line) {
      const span = document.createElement('span')
      span.textContent = run.text
      styleSpan(span, run.style)
      div.append(span)
    }
    // An empty line keeps its height.
    if (line.length === 0) div.append(document.createElement('br'))
    fragment.append(div)
  }
  return fragment
}

function styleSpan(span: HTMLElement, style: RunStyle): void {
  let fg = style.fg === undefined ? undefined : cssColor(style.fg)
  let bg = style.bg === undefined ? undefined : cssColor(style.bg)
  if (style.inverse) [fg, bg] = [bg ?? 'var(--bg)', fg ?? 'var(--text)']
  if (fg) span.style.color = fg
  if (bg) span.style.backgroundColor = bg
  if (style.bold) span.style.fontWeight = '700'
  if (style.dim) span.style.opacity = '0.7'
  if (style.italic) span.style.fontStyle = 'italic'
  const decorations = [style.underline ? 'underline' : '', style.strike ? 'line-through' : ''].filter(Boolean)
  if (decorations.length) span.style.textDecoration = decorations.join(' ')
}
