/**
 * What the command bus records under an idempotency key, and how a retry gets the original result back:
 * the fingerprint of the command (a hash of its JSON encoding, so no personal data it carries is stored
 * in the clear), and the outcome as JSON (versions and positions, not events or state: those are read
 * back from the stream, as of the recorded version, when a retry asks).
 */
import { Effect, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { CheckpointSchema } from "../Checkpoint.ts"
import type { CommandHandler, Handled } from "../CommandHandler.ts"
import type { RecordedEvent } from "../Events.ts"
import { EventStore } from "../EventStore.ts"

/** A recorded outcome, as stored (positions as decimal strings: JSON has no int8). */
export const RecordedOutcome = Schema.Struct({
  version: Schema.Int,
  appended: Schema.NullOr(Schema.Struct({
    streamId: Schema.String,
    version: Schema.Int,
    positions: Schema.Array(Schema.String),
    checkpoint: CheckpointSchema
  }))
})
export type RecordedOutcome = typeof RecordedOutcome.Type

const decodeOutcome = Schema.decodeUnknownEffect(RecordedOutcome)

export const record = <Event, State>(handled: Handled<Event, State>): RecordedOutcome => ({
  version: handled.version,
  appended: Option.match(handled.appended, {
    onNone: () => null,
    onSome: (a) => ({ streamId: a.streamId, version: a.version, positions: a.positions.map(String), checkpoint: a.checkpoint })
  })
})

/** JSON with object keys sorted, so equal values always print (and hash) the same. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`
  }
  return JSON.stringify(value)
}

/** The fingerprint of an encoded command sent to the aggregate of `category`. */
export const fingerprint = (category: string, encoded: unknown): string =>
  `${category}:${createHash("sha256").update(canonical(encoded)).digest("base64url")}`

/**
 * The original result of a command, from what was recorded: the stream as of the recorded version, and the
 * events of the recorded append. A recorded JSON that no longer decodes is a defect (the table is the bus's own).
 */
export const replay = <Command, Event, State, Rejection>(
  handler: CommandHandler<Command, Event, State, Rejection>,
  id: string,
  recorded: unknown
) =>
  Effect.gen(function*() {
    const outcome = yield* decodeOutcome(recorded).pipe(Effect.orDie)
    const { state } = yield* handler.loadAt(id, { version: outcome.version })
    if (outcome.appended === null) {
      return { events: [], state, version: outcome.version, appended: Option.none() } satisfies Handled<Event, State>
    }
    const appended = outcome.appended
    const store = yield* EventStore
    const stored = yield* store.readStream(handler.streamOf(id), {
      fromVersion: appended.version - appended.positions.length + 1,
      toVersion: appended.version
    }).pipe(Effect.catchTag("StreamNotFound", () => Effect.succeed<ReadonlyArray<RecordedEvent>>([])))
    const events = yield* handler.aggregate.codec.decodeAll(stored)
    return {
      events,
      state,
      version: outcome.version,
      appended: Option.some({ ...appended, positions: appended.positions.map(BigInt) })
    } satisfies Handled<Event, State>
  })
