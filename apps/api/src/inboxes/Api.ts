/**
 * The inboxes contract: the status of every inbox the ledger runs (today `fraud_watch`, consuming the
 * ledger's own published events from NATS JetStream) and the release of a stream an inbox parked after
 * repeated handler failures: retry (after a fix) or skip (move the failing message to the dead letters).
 * A sibling of `/projections` rather than part of it: an inbox is fed by the broker, not the store, and
 * its progress is a broker sequence, not a store checkpoint.
 *
 * Status and the parked list need scope read; retry and skip need scope admin. With no `NATS_URL` (or
 * `VERITY_INBOX=off`) the list is empty and every name is unknown (404).
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Authorization, RequiredScope } from "../Auth.ts"
import { Idempotency } from "../Idempotency.ts"
import * as Problems from "../Problems.ts"
import { RetryOutcome } from "../projections/Api.ts"

const NullableString = Schema.NullOr(Schema.String)
const NullableInt = Schema.NullOr(Schema.Int)

export const InboxParkedStream = Schema.Struct({
  stream: Schema.String,
  messageId: Schema.String,
  error: Schema.String,
  attempts: Schema.Int,
  waitingMessages: Schema.Int,
  parkedAt: Schema.String
}).annotate({ identifier: "InboxParkedStream", description: "A source stream whose message kept failing, and the messages held behind it" })

export const InboxStatus = Schema.Struct({
  name: Schema.String,
  stream: Schema.String.annotate({ description: "The JetStream stream consumed" }),
  filterSubject: NullableString,
  state: Schema.Literals(["live", "catching_up", "parked", "not_started", "broker_unavailable"]),
  brokerError: NullableString,
  handled: Schema.Int.annotate({ description: "Messages handled so far (each exactly once)" }),
  lastSeq: NullableInt.annotate({ description: "Broker sequence of the last handled message" }),
  lastPosition: NullableString.annotate({ description: "Store position of the last handled message (verity-position)" }),
  lastStream: NullableString,
  lastHandledAt: NullableString,
  pending: NullableInt.annotate({ description: "Lag in messages: not yet delivered to the inbox (null: broker unknown)" }),
  ackPending: NullableInt.annotate({ description: "Delivered and not yet acknowledged" }),
  lagSeconds: Schema.NullOr(Schema.Number).annotate({ description: "Age of the oldest message not yet acknowledged (0 when none)" }),
  parkedStreams: Schema.Int,
  parked: Schema.Array(InboxParkedStream)
}).annotate({ identifier: "InboxStatus" })

const Name = { name: Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9_]{0,40}$/, { expected: "an inbox name" })) }
const ParkedParams = { ...Name, stream: Schema.String.check(Schema.isMaxLength(255)) }
const errors = [Problems.NotFound, Problems.ServiceUnavailable, Problems.InternalError] as const

export class InboxesApi extends HttpApiGroup.make("inboxes")
  .add(
    HttpApiEndpoint.get("status", "/inboxes", { success: Schema.Array(InboxStatus), error: errors }),
    HttpApiEndpoint.get("parked", "/inboxes/:name/parked", { params: Name, success: Schema.Array(InboxParkedStream), error: errors }),
    HttpApiEndpoint.post("retry", "/inboxes/:name/parked/:stream/retry", {
      params: ParkedParams,
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      success: RetryOutcome,
      error: errors
    }).middleware(Idempotency).annotate(RequiredScope, "admin"),
    HttpApiEndpoint.post("skip", "/inboxes/:name/parked/:stream/skip", {
      params: ParkedParams,
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      success: RetryOutcome,
      error: errors
    }).middleware(Idempotency).annotate(RequiredScope, "admin")
  )
  .middleware(Authorization)
  .annotate(RequiredScope, "read")
  .annotateMerge(OpenApi.annotations({
    title: "Inboxes",
    description: "Consumers of the published events: status (scope read), parked streams' retry and skip (scope admin). " +
      "Unknown inbox or a stream that is not parked: 404; database away: 503."
  }))
{}
