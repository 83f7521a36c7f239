/**
 * Checks and serialises the events of an append before any SQL runs, so bad input fails with a precise
 * `InvalidEvent` and writes nothing: ids must be uuids, types short identifiers, payloads JSON without NUL
 * characters (PostgreSQL's jsonb cannot store `\u0000`) and within the configured size limits.
 */
import { Result } from "effect"
import { DuplicateEventId, InvalidEvent } from "./Errors.ts"
import type { EventMetadata, NewEvent } from "./Events.ts"

export interface Limits {
  /** Largest serialised `data` + `metadata` of one event, in bytes (default 1 MiB). */
  readonly maxEventBytes: number
  /** Most events in one append (default 10,000). */
  readonly maxEventsPerAppend: number
}

export const defaultLimits: Limits = { maxEventBytes: 1024 * 1024, maxEventsPerAppend: 10_000 }

export interface PreparedEvent {
  readonly eventId: string
  readonly type: string
  readonly schemaVersion: number
  readonly data: string
  readonly metadata: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/
// A JSON text contains the escape \u0000 only where a string held a NUL: an odd run of backslashes
// before "u0000" is an escape, an even run is a literal backslash followed by the text "u0000".
const NUL_ESCAPE = /(?<!\\)(?:\\\\)*\\u0000/

const hasNul = (json: string) => json.includes("\\u0000") && NUL_ESCAPE.test(json)

const byteLength = (text: string) => (text.length * 3 <= 0x7fffffff ? Buffer.byteLength(text, "utf8") : Infinity)

const serialise = (value: unknown): string | undefined => {
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}

export const isUuid = (value: unknown): value is string => typeof value === "string" && UUID.test(value)

export const prepare = (
  stream: string,
  events: ReadonlyArray<NewEvent>,
  metadata: EventMetadata | undefined,
  limits: Limits
): Result.Result<ReadonlyArray<PreparedEvent>, InvalidEvent | DuplicateEventId> => {
  const fail = (index: number, reason: InvalidEvent["reason"], detail: string) => Result.fail(new InvalidEvent({ stream, index, reason, detail }))
  if (events.length === 0) return fail(0, "Empty", "an append needs at least one event")
  if (events.length > limits.maxEventsPerAppend) {
    return fail(limits.maxEventsPerAppend, "TooLarge", `more than ${limits.maxEventsPerAppend} events in one append`)
  }
  const prepared: Array<PreparedEvent> = new Array(events.length)
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!
    if (!isUuid(event.eventId)) return fail(index, "InvalidEventId", "eventId must be a uuid")
    if (typeof event.type !== "string" || !TYPE.test(event.type)) {
      return fail(index, "InvalidType", "type must start with a letter and use letters, digits, _ . : - (max 200)")
    }
    const schemaVersion = event.schemaVersion ?? 1
    if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > 0x7fffffff) {
      return fail(index, "InvalidSchemaVersion", "schemaVersion must be a positive integer")
    }
    const data = serialise(event.data)
    if (data === undefined) return fail(index, "NotJson", "data is not serialisable as JSON")
    const merged = metadata === undefined ? event.metadata ?? {} : { ...metadata, ...event.metadata }
    const meta = serialise(merged)
    if (meta === undefined || meta[0] !== "{") return fail(index, "NotJson", "metadata must be a JSON object")
    if (hasNul(data) || hasNul(meta)) return fail(index, "NulCharacter", "text must not contain NUL (\\u0000) characters")
    const size = byteLength(data) + byteLength(meta)
    if (size > limits.maxEventBytes) {
      return fail(index, "TooLarge", `event is ${size} bytes, over the limit of ${limits.maxEventBytes}`)
    }
    prepared[index] = { eventId: event.eventId.toLowerCase(), type: event.type, schemaVersion, data, metadata: meta }
  }
  const ids = new Set<string>()
  for (const event of prepared) {
    if (ids.has(event.eventId)) return Result.fail(new DuplicateEventId({ stream, eventIds: [event.eventId] }))
    ids.add(event.eventId)
  }
  return Result.succeed(prepared)
}

/** Event ids used by more than one write of a multi-stream append. */
export const repeatedIds = (writes: ReadonlyArray<ReadonlyArray<PreparedEvent>>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const repeated: Array<string> = []
  for (const events of writes) {
    for (const event of events) {
      if (seen.has(event.eventId)) repeated.push(event.eventId)
      seen.add(event.eventId)
    }
  }
  return repeated
}
