/** `replayer verify <projection>`: recompute from the events and diff with the live read model (exit 1 on differences). */
import { Projections } from "@verity/projections"
import { Console, Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { CheckFailed, OperationFailed } from "../Failures.ts"
import * as Runtime from "../Runtime.ts"
import { checkName } from "./Rebuild.ts"

export const verify = Command.make(
  "verify",
  { projection: Argument.String("projection").pipe(Argument.withDescription("Read model to verify")) },
  ({ projection }) =>
    Effect.gen(function*() {
      const name = yield* checkName(projection)
      const report = yield* Effect.gen(function*() {
        const projections = yield* Projections.Projections
        return yield* projections.verify(name).pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
      }).pipe(Runtime.provide({ run: false }))
      yield* Console.log(
        `${name} generation ${report.generation} at ${report.checkpoint}: recomputed from ${report.events} events` +
          (report.excluded > 0 ? ` (${report.excluded} skipped or parked events left out, as in the live model)` : "")
      )
      for (const table of report.tables) {
        yield* Console.log(`  ${table.table}: ${table.differences === 0 ? "identical" : `${table.differences} differing rows`}`)
        for (const row of table.rows.slice(0, 20)) {
          yield* Console.log(
            `    key ${JSON.stringify(row.key)}\n      live:     ${JSON.stringify(row.live ?? null)}\n      expected: ${
              JSON.stringify(row.expected ?? null)
            }`
          )
        }
      }
      if (!report.consistent) return yield* new CheckFailed({ message: `${name} differs from its events` })
    })
).pipe(Command.withDescription("Recompute a read model from the events and diff it with the live one"))
