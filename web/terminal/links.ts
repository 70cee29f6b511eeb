/**
 * Opens a link the user tapped in the terminal, only if it is http(s), in a
 * new tab without `window.opener` or a referrer. Anything else (javascript:,
 * file:, data:, custom schemes) is ignored. Returns whether it opened.
 */
export function openSafeLink(uri: string): boolean {
  const url = safeLinkUrl(uri)
  if (!url) return false
  window.open(url, '_blank', 'noopener,noreferrer')
  return true
}

/** The normalised URL when `uri` is an absolute http(s) URL, else undefined. Pure. */
export function safeLinkUrl(uri: string): string | undefined {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return undefined
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
}
