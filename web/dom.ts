type Attributes = Record<string, string | number | boolean | undefined>

/**
 * Creates an element. Children are nodes or plain text (set as text nodes,
 * never parsed as HTML: session and window names come from tmux). Boolean
 * attributes are set when true; undefined ones are skipped.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    element.setAttribute(name, value === true ? '' : String(value))
  }
  element.append(...children)
  return element
}
