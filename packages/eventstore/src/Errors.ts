/**
 * Every way an event store operation can fail, as typed values in the error channel.
 *
 * Domain-level outcomes (a stale expected version, an unknown or deleted stream, invalid input, an event
 * that no longer decodes) are separate classes so callers can match on them. Infrastructure failures are
 * one `StoreUnavailable` wrapper whose `reason` says what happened and whether a retry can succeed. Nothing
 * here knows about HTTP: the API maps these to statuses at its edge.
 */
import { Schema } from "effect"

/** What an append expected of the stream: see `ExpectedVersion.ts`. Rendered as in the request. */
export const ExpectedVersionSchema = Schema.Union([
  Schema.Literals(["any", "no_stream", "stream_exists"]),
  Schema.Int
])

/** The stream was not at the expected version; nothing was written. `actual` is 0 when it has no events. */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  stream: Schema.String,
  expected: ExpectedVersionSchema,
  actual: Schema.Int
}) {
  override get message() {
    return `stream ${this.stream} is at version ${this.actual}, expected ${this.expected}`
  }
}

/** The stream has no events, or was soft-deleted. */
export class StreamNotFound extends Schema.TaggedError<StreamNotFound>()("StreamNotFound", {
  stream: Schema.String
}) {
  override get message() {
    return `stream ${this.stream} does not exist`
  }
}

/** The stream was tombstoned: it can never be read or written again. */
export class StreamTombstoned extends Schema.TaggedError<StreamTombstoned>()("StreamTombstoned", {
  stream: Schema.String
}) {
  override get message() {
    return `stream ${this.stream} was permanently deleted`
  }
}

/** A stream name that is not `<category>-<id>`. */
export class InvalidStreamName extends Schema.TaggedError<InvalidStreamName>()("InvalidStreamName", {
  stream: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid stream name ${JSON.stringify(this.stream.slice(0, 100))}: ${this.reason}`
  }
}

/**
 * An append rejected before anything was written: NUL characters (PostgreSQL cannot store them), a payload
 * over the size limit, an invalid id or type, or an expected version that is none of the accepted forms.
 * `index` is the event's position in the append (0 when the append as a whole is at fault: `Empty`,
 * `InvalidExpectedVersion`).
 */
export class InvalidEvent extends Schema.TaggedError<InvalidEvent>()("InvalidEvent", {
  stream: Schema.String,
  index: Schema.Int,
  reason: Schema.Literals([
    "NulCharacter",
    "TooLarge",
    "InvalidEventId",
    "InvalidType",
    "InvalidSchemaVersion",
    "NotJson",
    "Empty",
    "InvalidExpectedVersion"
  ]),
  detail: Schema.String
}) {
  override get message() {
    return `event #${this.index} for stream ${this.stream} rejected (${this.reason}): ${this.detail}`
  }
}

/**
 * Some of the event ids of an append are already stored, but not as an earlier identical append to this
 * stream: the request reused ids. Nothing was written.
 */
export class DuplicateEventId extends Schema.TaggedError<DuplicateEventId>()("DuplicateEventId", {
  stream: Schema.String,
  eventIds: Schema.Array(Schema.String)
}) {
  override get message() {
    return `event ids already used elsewhere: ${this.eventIds.join(", ")}`
  }
}

/** A stored event that cannot be turned into a current-version domain event. */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>()("EventDecodeError", {
  stream: Schema.String,
  version: Schema.Int,
  type: Schema.String,
  schemaVersion: Schema.Int,
  detail: Schema.String
}) {
  override get message() {
    return `cannot decode ${this.type} v${this.schemaVersion} at ${this.stream}@${this.version}: ${this.detail}`
  }
}

/** A checkpoint string that this store did not produce. */
export class InvalidCheckpoint extends Schema.TaggedError<InvalidCheckpoint>()("InvalidCheckpoint", {
  checkpoint: Schema.String
}) {
  override get message() {
    return `invalid checkpoint ${JSON.stringify(this.checkpoint.slice(0, 100))}`
  }
}

/**
 * The database could not serve the operation. `retryable` says whether trying again can succeed (the
 * server went away or restarted, a lock or statement timed out, a serialization conflict). An append that
 * fails this way is atomic: it either committed entirely or not at all, and retrying it with the same
 * event ids is safe (the store recognises its own events and returns the original result).
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  reason: Schema.Literals(["Connection", "Timeout", "Conflict", "Unexpected"]),
  retryable: Schema.Boolean,
  detail: Schema.String
}) {
  override get message() {
    return `event store ${this.operation} failed (${this.reason}${this.retryable ? ", retryable" : ""}): ${this.detail}`
  }
}

/** New personal data for a data subject that was forgotten: refused, so erasure stays permanent. */
export class SubjectForgotten extends Schema.TaggedError<SubjectForgotten>()("SubjectForgotten", {
  subject: Schema.String
}) {
  override get message() {
    return `data subject ${this.subject} was forgotten: no new personal data can be stored for it`
  }
}

/**
 * Encrypted personal data that cannot be read for a reason other than erasure: the master key is missing or
 * wrong, a data key is missing, or a ciphertext was altered. Never answered with garbage or a placeholder.
 */
export class PersonalDataError extends Schema.TaggedError<PersonalDataError>()("PersonalDataError", {
  reason: Schema.Literals(["MissingMasterKey", "UnknownMasterKey", "WrongMasterKey", "MissingDataKey", "CorruptCiphertext"]),
  subject: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `personal data of subject ${this.subject} cannot be read (${this.reason}): ${this.detail}`
  }
}

/** A command bus input that is not a valid command of any registered aggregate (`issue`: what is wrong). */
export class InvalidCommand extends Schema.TaggedError<InvalidCommand>()("InvalidCommand", {
  issue: Schema.String
}) {
  override get message() {
    return `invalid command: ${this.issue}`
  }
}

/**
 * An idempotency key already recorded for a different command: the key is refused rather than answered
 * with another command's result (a client reused a key, or two senders collided).
 */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  idempotencyKey: Schema.String
}) {
  override get message() {
    return `idempotency key ${this.idempotencyKey} was already used for a different command`
  }
}

export type AppendError =
  | WrongExpectedVersion
  | StreamTombstoned
  | InvalidStreamName
  | InvalidEvent
  | DuplicateEventId
  | StoreUnavailable
  | SubjectForgotten
  | PersonalDataError

export type ReadStreamError = StreamNotFound | StreamTombstoned | InvalidStreamName | StoreUnavailable | PersonalDataError

/** Failures of reads of the global order. */
export type ReadAllError = StoreUnavailable | PersonalDataError
