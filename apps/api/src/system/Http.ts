/**
 * Handlers of the system group. Readiness runs its checks with a short timeout each: a probe must answer
 * quickly even when the database hangs. Both read `DatabaseHealth` when the runtime has one (the embedded
 * server's watchdog): liveness fails only once recovery was given up. The broker, when one is configured
 * (`BrokerHealth`), is reported but never fails readiness (see Api.ts).
 */
import { BrokerHealth } from "@verity/integration"
import { DatabaseHealth } from "@verity/postgres"
import { Projections } from "@verity/projections"
import { Cause, Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { VerityApi } from "../Api.ts"
import * as Migrations from "../Migrations.ts"
import { NotLive, NotReady } from "./Api.ts"

/** Projection states that mean "a runner is working on it". */
const RUNNING: ReadonlySet<string> = new Set(["live", "catching_up", "parked", "stalled"])

export const SystemHttp = HttpApiBuilder.group(
  VerityApi,
  "system",
  Effect.fn(function*(handlers) {
    const sql = yield* SqlClient
    const projections = yield* Projections.Projections
    const broker = yield* Effect.serviceOption(BrokerHealth.BrokerHealth)
    const health = Option.getOrElse(yield* Effect.serviceOption(DatabaseHealth), () => DatabaseHealth.external)
    const check = <A>(effect: Effect.Effect<A, unknown>, fallback: A) =>
      effect.pipe(Effect.timeout("2 seconds"), Effect.catchCause(() => Effect.succeed(fallback)))

    return handlers.handleAll({
      health: () =>
        Effect.gen(function*() {
          const state = yield* health.state
          if (state._tag === "Unrecoverable") return yield* new NotLive({ detail: `the database cannot be recovered: ${state.reason}` })
          return state._tag === "Recovering" ? { status: "ok" as const, database: state.reason } : { status: "ok" as const }
        }),
      ready: () =>
        Effect.gen(function*() {
          const [database, migrations, states, state, brokerState] = yield* Effect.all([
            sql`SELECT 1`.pipe(
              Effect.timeout("2 seconds"),
              Effect.as(undefined),
              Effect.catchCause((cause) => Effect.succeed(Cause.pretty(cause).split("\n")[0] ?? "no answer"))
            ),
            check(
              Effect.map(Migrations.applied, ({ api, store }) => store > 0 && api >= Migrations.expected).pipe(
                Effect.provideService(SqlClient, sql)
              ),
              false
            ),
            check(
              Effect.map(projections.status, (all) => Object.fromEntries(all.map((p) => [p.name, p.state]))),
              {} as Record<string, string>
            ),
            health.state,
            Option.isSome(broker) ? Effect.asSome(broker.value.check) : Effect.succeedNone
          ], { concurrency: "unbounded" })
          const names = projections.definitions.map((p) => p.name)
          const running = names.every((name) => RUNNING.has(states[name] ?? "unknown"))
          const checks = {
            database: database === undefined,
            migrations,
            projections: Object.fromEntries(names.map((n) => [n, states[n] ?? "unknown"])),
            ...(Option.isSome(brokerState) ? { broker: brokerState.value } : {})
          }
          if (database !== undefined || !migrations || !running) {
            const reasons = [
              ...(state._tag === "Up" ? [] : [state.reason]),
              ...(database === undefined ? [] : [`database unavailable: ${database}`]),
              ...(migrations || database !== undefined ? [] : ["migrations not applied"]),
              ...(running ? [] : ["projections not running"])
            ]
            return yield* new NotReady({ checks, detail: `not ready to serve traffic: ${reasons.join("; ")}` })
          }
          return { status: "ready" as const, checks }
        })
    })
  })
)
