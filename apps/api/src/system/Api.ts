/**
 * The public system endpoints: liveness (`/health`: the process answers and can still get its database
 * back; 503 once it has given up, just before it exits non-zero) and readiness (`/ready`: the database
 * answers, every migration is applied and the projections are running; 503 otherwise, with the reason in
 * `detail`, so a load balancer keeps traffic away). No token needed.
 *
 * With `NATS_URL` set, readiness also reports the broker the relay publishes to (`checks.broker`: `ok`, or
 * `unreachable` with the reason), but an unreachable broker does not make the API unready: commands and
 * reads need only the database, the relay publishes what was committed meanwhile once the broker is back
 * (its lag, in `GET /projections`, is what to alert on), and every instance shares the one broker, so
 * taking instances out of rotation would turn a broker outage into an API outage.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiError, HttpApiGroup, OpenApi } from "effect/http-api"

export const Checks = Schema.Struct({
  database: Schema.Boolean,
  migrations: Schema.Boolean,
  projections: Schema.Record(Schema.String, Schema.String),
  /** Present when a broker is configured (`NATS_URL`); informational: it never makes `/ready` fail. */
  broker: Schema.optional(Schema.Struct({
    status: Schema.Literals(["ok", "unreachable"]),
    reason: Schema.optional(Schema.String)
  }))
}).annotate({ identifier: "ReadinessChecks" })

export class NotReady extends HttpApiError.Problem<NotReady>()("NotReady", {
  type: "urn:verity:problem:NotReady",
  status: 503,
  title: "NotReady"
}, { checks: Checks }) {}

export class NotLive extends HttpApiError.Problem<NotLive>()("NotLive", {
  type: "urn:verity:problem:NotLive",
  status: 503,
  title: "NotLive"
}) {}

export class SystemApi extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health", {
      success: Schema.Struct({
        status: Schema.Literal("ok"),
        /** Present while the database is away and being recovered: what is happening. */
        database: Schema.optional(Schema.String)
      }),
      error: NotLive
    }),
    HttpApiEndpoint.get("ready", "/ready", {
      success: Schema.Struct({ status: Schema.Literal("ready"), checks: Checks }),
      error: NotReady
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "System", description: "Liveness and readiness (public)." }))
{}
