/**
 * The projections contract (operators, scope admin): status of every projection (checkpoint, lag, state,
 * a rebuild in progress), starting a blue/green rebuild, and the parked streams of a projection with
 * retry (after a fix) and skip (move the failing event to the dead letters).
 *
 * A rebuild's switch is verified: when the new generation differs from the events, readers stay on the
 * current one and the status shows the building generation's `refusal` with the differing rows;
 * `?skipVerify=true` starts a rebuild that switches without the comparison.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Authorization, RequiredScope } from "../Auth.ts"
import { Idempotency } from "../Idempotency.ts"
import * as Problems from "../Problems.ts"

const NullableString = Schema.NullOr(Schema.String)

export const SwitchRefusal = Schema.Struct({
  checkpoint: Schema.String,
  tables: Schema.Array(Schema.Struct({
    table: Schema.String,
    differences: Schema.Int,
    rows: Schema.Array(Schema.Struct({
      key: Schema.Record(Schema.String, Schema.Unknown),
      /** The new generation's row (absent: missing there). */
      live: Schema.optionalKey(Schema.Unknown),
      /** The row recomputed from the events (absent: should not exist). */
      expected: Schema.optionalKey(Schema.Unknown)
    }))
  }))
}).annotate({ identifier: "SwitchRefusal", description: "Why readers were not switched to this generation: its rows that differ from the events" })

export const HeldBackBy = Schema.Struct({
  transactionId: Schema.String,
  pid: Schema.Int,
  applicationName: Schema.String,
  state: Schema.String,
  ageSeconds: Schema.NullOr(Schema.Number)
}).annotate({
  identifier: "HeldBackBy",
  description: "The open transaction appending events that this generation's committed events wait behind"
})

export const GenerationStatus = Schema.Struct({
  generation: Schema.Int,
  version: Schema.Int,
  checkpoint: Schema.String,
  position: Schema.String,
  eventsApplied: Schema.String,
  lagEvents: Schema.Int,
  lagCapped: Schema.Boolean,
  lagSeconds: Schema.Number,
  owner: NullableString,
  heartbeatAgeSeconds: Schema.NullOr(Schema.Number),
  runnerState: NullableString,
  lastError: NullableString,
  refusal: Schema.optionalKey(SwitchRefusal),
  heldBackBy: Schema.NullOr(HeldBackBy)
}).annotate({ identifier: "GenerationStatus" })

export const ProjectionStatus = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  version: Schema.Int,
  state: Schema.Literals(["live", "catching_up", "stalled", "parked", "stopped", "not_started"]),
  active: Schema.optionalKey(GenerationStatus),
  building: Schema.optionalKey(GenerationStatus),
  parkedStreams: Schema.Int
}).annotate({ identifier: "ProjectionStatus" })

export const ParkedStream = Schema.Struct({
  stream: Schema.String,
  generation: Schema.Int,
  position: Schema.String,
  eventType: Schema.String,
  error: Schema.String,
  attempts: Schema.Int,
  waitingEvents: Schema.Int,
  parkedAt: Schema.String
}).annotate({ identifier: "ParkedStream" })

export const RetryOutcome = Schema.Struct({
  resumed: Schema.Boolean,
  applied: Schema.Int,
  skipped: Schema.Int,
  error: Schema.optionalKey(Schema.String)
}).annotate({ identifier: "RetryOutcome" })

export const RebuildStarted = Schema.Struct({ name: Schema.String, generation: Schema.Int })
  .annotate({ identifier: "RebuildStarted" })

const Name = { name: Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9_]{0,40}$/, { expected: "a projection name" })) }
const ParkedParams = { ...Name, stream: Schema.String.check(Schema.isMaxLength(255)) }
const errors = [Problems.NotFound, Problems.NotReplayable, Problems.ServiceUnavailable, Problems.InternalError] as const

export class ProjectionsApi extends HttpApiGroup.make("projections")
  .add(
    HttpApiEndpoint.get("status", "/projections", {
      success: Schema.Array(ProjectionStatus),
      error: errors
    }),
    HttpApiEndpoint.post("rebuild", "/projections/:name/rebuild", {
      params: Name,
      query: {
        skipVerify: Schema.optional(Schema.Literals(["true", "false"])).annotate({
          description: "true: switch readers to the new generation without comparing it with the events"
        })
      },
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      success: RebuildStarted.pipe(HttpApiSchema.status(202)),
      error: errors
    }).middleware(Idempotency),
    HttpApiEndpoint.get("parked", "/projections/:name/parked", {
      params: Name,
      success: Schema.Array(ParkedStream),
      error: errors
    }),
    HttpApiEndpoint.post("retry", "/projections/:name/parked/:stream/retry", {
      params: ParkedParams,
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      success: RetryOutcome,
      error: errors
    }).middleware(Idempotency),
    HttpApiEndpoint.post("skip", "/projections/:name/parked/:stream/skip", {
      params: ParkedParams,
      headers: { "idempotency-key": Schema.optional(Schema.String) },
      success: RetryOutcome,
      error: errors
    }).middleware(Idempotency)
  )
  .middleware(Authorization)
  .annotate(RequiredScope, "admin")
  .annotateMerge(OpenApi.annotations({
    title: "Projections",
    description: "Read model operations: status, rebuild, parked streams (scope admin)."
  }))
{}
