/**
 * Handlers of the system group. Readiness runs its checks with a short timeout each: a probe must answer
 * quickly even when the database hangs.
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { Projections } from "@verity/projections"
import { VerityApi } from "../Api.ts"
import * as Migrations from "../Migrations.ts"
import { NotReady } from "./Api.ts"

/** Projection states that mean "a runner is working on it". */
const RUNNING: ReadonlySet<string> = new Set(["live", "catching_up", "parked", "stalled"])

export const SystemHttp = HttpApiBuilder.group(
  VerityApi,
  "system",
  Effect.fn(function*(handlers) {
    const sql = yield* SqlClient
    const projections = yield* Projections.Projections
    const check = <A>(effect: Effect.Effect<A, unknown>, fallback: A) =>
      effect.pipe(Effect.timeout("2 seconds"), Effect.catchCause(() => Effect.succeed(fallback)))

    return handlers.handleAll({
      health: () => Effect.succeed({ status: "ok" as const }),
      ready: () =>
        Effect.gen(function*() {
          const [database, migrations, states] = yield* Effect.all([
            check(Effect.as(sql`SELECT 1`, true), false),
            check(
              Effect.map(Migrations.applied, ({ api, store }) => store > 0 && api >= Migrations.expected).pipe(
                Effect.provideService(SqlClient, sql)
              ),
              false
            ),
            check(
              Effect.map(projections.status, (all) => Object.fromEntries(all.map((p) => [p.name, p.state]))),
              {} as Record<string, string>
            )
          ], { concurrency: "unbounded" })
          const names = projections.definitions.map((p) => p.name)
          const running = names.every((name) => RUNNING.has(states[name] ?? "unknown"))
          const checks = { database, migrations, projections: Object.fromEntries(names.map((n) => [n, states[n] ?? "unknown"])) }
          if (!database || !migrations || !running) {
            return yield* new NotReady({ checks, detail: "not ready to serve traffic" })
          }
          return { status: "ready" as const, checks }
        })
    })
  })
)
