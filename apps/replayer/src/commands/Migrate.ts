/**
 * `replayer migrate <category> --to-category <name> [--dry-run]`: copy-and-transform a ledger category to
 * current schema versions into a new stream set (see CategoryMigration in the event store).
 */
import { CategoryMigration, EventStore } from "@verity/eventstore"
import { LedgerStreams } from "@verity/ledger"
import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { OperationFailed, UsageError } from "../Failures.ts"
import * as Progress from "../Progress.ts"
import * as Runtime from "../Runtime.ts"

export const migrate = Command.make(
  "migrate",
  {
    category: Argument.Literals("category", ["account", "transfer"]).pipe(Argument.withDescription("Category to rewrite")),
    toCategory: Flag.String("to-category").pipe(Flag.withDescription("Category of the rewritten streams")),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Upcast and check everything, write nothing"), Flag.withDefault(false))
  },
  ({ category, dryRun, toCategory }) =>
    Effect.gen(function*() {
      if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(toCategory) || toCategory === category) {
        return yield* new UsageError({ message: "--to-category must be a different valid category name" })
      }
      const store = yield* EventStore
      const tracker = Progress.make(`migrate ${category}`, undefined)
      const codec = category === "account" ? LedgerStreams.accountCodec : LedgerStreams.transferCodec
      const report = yield* CategoryMigration.run({
        category,
        codec: codec as CategoryMigration.MigrationOptions<unknown>["codec"],
        source: store,
        targetCategory: toCategory,
        dryRun,
        onProgress: (p) => tracker.update(p.eventsRead)
      }).pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
      yield* tracker.finish(report.eventsRead)
      yield* Console.log(JSON.stringify(report, null, 2))
    }).pipe(Runtime.provide({ run: false }))
).pipe(Command.withDescription("Rewrite a category to current event versions into a new stream set"))
