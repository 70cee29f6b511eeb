import * as v from 'valibot'
import { HandoffError, type ErrorCode } from '../errors.js'

/**
 * Reads and validates a JSON body; every malformation is one 400 (BAD_REQUEST,
 * or the route's own `code`) that says what was wrong. An empty body reads as `{}`.
 */
export async function jsonBody<S extends v.GenericSchema>(
  req: Request,
  schema: S,
  refusal: { code: ErrorCode; what: string } = { code: 'BAD_REQUEST', what: 'request body' },
): Promise<v.InferOutput<S>> {
  let raw: unknown
  try {
    const text = await req.text()
    raw = text.trim() === '' ? {} : JSON.parse(text)
  } catch {
    throw new HandoffError(refusal.code, 400, `the ${refusal.what} is not valid JSON`)
  }
  const parsed = v.safeParse(schema, raw)
  if (parsed.success) return parsed.output
  const issue = parsed.issues[0]
  const path = v.getDotPath(issue)
  throw new HandoffError(refusal.code, 400, `invalid ${refusal.what}: ${path ? `"${path}": ` : ''}${issue.message}`)
}
