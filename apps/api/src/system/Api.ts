/**
 * The public system endpoints: liveness (`/health`: the process answers) and readiness (`/ready`: the
 * database answers, every migration is applied and the projections are running; 503 otherwise, so a load
 * balancer keeps traffic away). No token needed.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiError, HttpApiGroup, OpenApi } from "effect/http-api"

export const Checks = Schema.Struct({
  database: Schema.Boolean,
  migrations: Schema.Boolean,
  projections: Schema.Record(Schema.String, Schema.String)
}).annotate({ identifier: "ReadinessChecks" })

export class NotReady extends HttpApiError.Problem<NotReady>()("NotReady", {
  type: "urn:verity:problem:NotReady",
  status: 503,
  title: "NotReady"
}, { checks: Checks }) {}

export class SystemApi extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health", {
      success: Schema.Struct({ status: Schema.Literal("ok") })
    }),
    HttpApiEndpoint.get("ready", "/ready", {
      success: Schema.Struct({ status: Schema.Literal("ready"), checks: Checks }),
      error: NotReady
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "System", description: "Liveness and readiness (public)." }))
{}
