/** A tmux session as `GET /api/sessions` lists it (docs/protocol.md). */
export interface Session {
  name: string
  windows: number
  /** tmux clients on the session (the desktop), not Handoff's viewers. */
  attached: number
  /** Last activity, Unix seconds. */
  activity: number
}

/** A tmux window as `GET /api/sessions/:session/windows` lists it. */
export interface TmuxWindow {
  index: number
  name: string
  active: boolean
  title: string
  command: string
  path: string
  activity: number
}

/**
 * A request the server refused (its `{error: {code, message}}` body), or one
 * that never got an answer (`code` is `NETWORK_ERROR`).
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export const listSessions = (): Promise<Session[]> => request<Session[]>('GET', '/api/sessions')

export const listWindows = (session: string): Promise<TmuxWindow[]> =>
  request<TmuxWindow[]>('GET', `/api/sessions/${encodeURIComponent(session)}/windows`)

export const createSession = (name: string): Promise<Session> =>
  request<Session>('POST', '/api/sessions', { name })

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      // Answers describe live tmux state; a cached list would lie.
      cache: 'no-store',
    })
  } catch (cause) {
    throw new ApiError('NETWORK_ERROR', 0, `Could not reach the Handoff server (${String(cause)}).`)
  }
  if (!response.ok) throw await errorFrom(response)
  return (await response.json()) as T
}

async function errorFrom(response: Response): Promise<ApiError> {
  const fallback = `The server answered ${response.status} ${response.statusText}.`.replace(' .', '.')
  try {
    const body: unknown = await response.json()
    if (isErrorBody(body)) return new ApiError(body.error.code, response.status, body.error.message)
  } catch {
    // Not JSON (a proxy's error page, say): the status line is all we have.
  }
  return new ApiError('HTTP_' + response.status, response.status, fallback)
}

function isErrorBody(body: unknown): body is { error: { code: string; message: string } } {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false
  const error: unknown = body.error
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  )
}
