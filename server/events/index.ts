export { EVENT_LIMITS, EVENT_TYPE_PATTERN, EventSchema, parseEventLine, sanitizeEventText, serializeEvent } from './schema.js'
export type { EventChoice, EventInput, HandoffEvent } from './schema.js'
export {
  appendEvent,
  EVENT_LOG_LIMITS,
  EVENTS_FILE,
  EVENTS_SEQ_FILE,
  EVENTS_STATE_FILE,
  eventsLogMaxBytes,
  eventsPath,
  ROTATED_EVENTS_FILE,
  rotatedEventsPath,
} from './log.js'
export type { AppendOptions } from './log.js'
export { EVENT_ID_LIMITS, impossibleId } from './ids.js'
export { eventsHealth, REMOVED_EVENTS_FILE, repairEvents } from './repair.js'
export type { EventsHealth, EventsRepair } from './repair.js'
export { followEvents, TAIL_LIMITS } from './tail.js'
export type { Follower, FollowOptions, SkipReason } from './tail.js'
export { PIPELINE_LIMITS, startEventPipeline } from './pipeline.js'
export type { EventListener, EventPipeline, PipelineOptions, SubscribeOptions } from './pipeline.js'
export { createEventRoutes, EVENT_STREAM_LIMITS, parseSince } from './routes.js'
export type { EventRouteDeps } from './routes.js'
export { ANSWER_LIMITS, createAnswerRoutes } from './answer.js'
export type { AnswerRouteDeps } from './answer.js'
export { CHOICE_LIMITS, parseChoiceKeys } from './choices.js'
export type { ParsedKeys } from './choices.js'
