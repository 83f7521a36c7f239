/**
 * The event feed contract: `GET /events`, the commit-safe global order as Server-Sent Events for consumers
 * without a broker (scope read). Filters by stream category and event type (repeatable or comma-separated),
 * resumes after the checkpoint in `Last-Event-ID` (or `?after=`), then follows new events live. The body
 * is a stream, so the success is declared as a `text/event-stream` body; Feed.ts writes it.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Authorization } from "../Auth.ts"
import * as Problems from "../Problems.ts"

/** One filter parameter: repeat it (`?type=A&type=B`) or separate values by commas (`?type=A,B`). */
const Filter = (description: string) => Schema.optional(Schema.Array(Schema.String.check(Schema.isMaxLength(2000)))).annotate({ description })

/** The JSON in each message's `data:` line (documentation of the stream's elements). */
export const FeedEvent = Schema.Struct({
  eventId: Schema.String,
  streamId: Schema.String,
  version: Schema.Int,
  /** Global position (digits; insertion order, not commit order: resume with the message id instead). */
  position: Schema.String,
  type: Schema.String,
  schemaVersion: Schema.Int,
  recordedAt: Schema.String,
  /** Correlation and causation ids, the actor, trace context, the idempotency key when there was one. */
  metadata: Schema.Json,
  /** The event's data as stored, personal data decrypted (placeholders once the subject was forgotten). */
  data: Schema.Json,
  /** Personal-data fields that read as placeholders because their data subject was forgotten. */
  erasedFields: Schema.Array(Schema.String)
}).annotate({ identifier: "FeedEvent" })

const description = [
  "Server-Sent Events, one per event in the commit-safe global order, then live as new events commit:",
  "",
  "```",
  "id: <checkpoint>",
  "event: <type>",
  "data: {\"eventId\",\"streamId\",\"version\",\"position\",\"type\",\"schemaVersion\",\"recordedAt\",\"metadata\",\"data\",\"erasedFields\"}",
  "```",
  "",
  "`data` is the event as stored (its stored type and schema version), personal data decrypted, or",
  "placeholders listed in `erasedFields` once the subject was forgotten; `metadata` carries `correlationId`,",
  "`causationId`, `actor`, trace context. `position` is informative: resume with the id.",
  "",
  "The id is an opaque checkpoint: reconnect with `Last-Event-ID: <id>` (EventSource does this itself) to",
  "resume right after that event, with nothing missed and nothing repeated. A `: keep-alive` comment is sent",
  "while no event arrives. When the database goes away mid-stream the stream ends: reconnect."
].join("\n")

export class EventsApi extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("feed", "/events", {
      query: {
        category: Filter("Only streams of these categories (`account`, `transfer`, `erasure`)"),
        type: Filter("Only events of these stored types (e.g. `MoneyDeposited`)"),
        after: Schema.optional(Schema.String.check(Schema.isMaxLength(100))).annotate({
          description: "Resume after this checkpoint (a message id); `Last-Event-ID` wins when both are given"
        })
      },
      headers: {
        "last-event-id": Schema.optional(Schema.String.check(Schema.isMaxLength(100))).annotate({
          description: "Resume after this checkpoint (the id of the last message received)"
        })
      },
      success: HttpApiSchema.StreamUint8Array({ contentType: "text/event-stream" }),
      error: [Problems.BadRequest, Problems.ServiceUnavailable, Problems.InternalError]
    }).annotateMerge(OpenApi.annotations({
      summary: "The global event feed (Server-Sent Events)",
      description: description + "\n\nBeyond `VERITY_API_MAX_FEEDS` open feeds: 503 `Overloaded` with `Retry-After`."
    }))
  )
  .middleware(Authorization)
  .annotateMerge(OpenApi.annotations({
    title: "Events",
    description: "The global event feed as Server-Sent Events (scope read)."
  }))
{}
