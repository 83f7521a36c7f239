/**
 * `replayer rebuild <projection> | --all`: builds a new generation of a read model from the whole history
 * at bulk speed (large batches, set-based writes) beside the live one, compares it with the events, then
 * switches readers to it. A mismatch refuses the switch, prints the differing rows and exits 1 (readers
 * stay on the old generation); `--skip-verify` switches without the comparison. An interrupted rebuild
 * resumes from its generation's last checkpoint when run again.
 */
import { Checkpoint, EventStore } from "@verity/eventstore"
import { Projections } from "@verity/projections"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { CheckFailed, OperationFailed, UsageError } from "../Failures.ts"
import * as Progress from "../Progress.ts"
import * as Runtime from "../Runtime.ts"

const known = () => Runtime.readModels.map((p) => p.name)

export const checkName = (name: string) =>
  known().includes(name)
    ? Effect.succeed(name)
    : Effect.fail(new UsageError({ message: `unknown projection "${name}" (known: ${known().join(", ")})` }))

/** The differing rows of a refused switch, as `verify` prints them. */
export const printRefusal = (refused: Projections.SwitchRefused) =>
  Effect.gen(function*() {
    yield* Console.log(
      `${refused.name}: generation ${refused.generation} differs from the events at ${refused.checkpoint}; readers stay on the current generation`
    )
    for (const table of refused.tables) {
      yield* Console.log(`  ${table.table}: ${table.differences} differing rows`)
      for (const row of table.rows.slice(0, 20)) {
        yield* Console.log(
          `    key ${JSON.stringify(row.key)}\n      rebuilt:  ${JSON.stringify(row.live ?? null)}\n      expected: ${
            JSON.stringify(row.expected ?? null)
          }`
        )
      }
    }
  })

const rebuildOne = (name: string, skipVerify: boolean) =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    const store = yield* EventStore
    const definition = Runtime.readModels.find((p) => p.name === name)!
    const status = yield* projections.statusOf(name).pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
    const from = status.building?.checkpoint ?? Checkpoint.start
    const backlog = yield* store.backlog({
      from,
      types: definition.eventTypes,
      ...(definition.categories === undefined ? {} : { categories: definition.categories }),
      max: 1_000_000_000
    }).pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
    if (status.building !== undefined) {
      yield* Console.error(`${name}: resuming generation ${status.building.generation} (${backlog.events} events to go)`)
    }
    const tracker = Progress.make(name, backlog.events)
    const report = yield* projections.rebuildNow(name, (p) => tracker.update(p.events), { skipVerify }).pipe(
      Effect.catchTag("SwitchRefused", (refused) =>
        Effect.andThen(
          printRefusal(refused),
          Effect.fail(new CheckFailed({ message: `${refused.message} (rebuild --skip-verify switches anyway)` }))
        )),
      Effect.mapError((e) => (e._tag === "CheckFailed" ? e : new OperationFailed({ message: e.message })))
    )
    const done = yield* tracker.finish(report.events)
    yield* Console.log(
      `${name}: generation ${report.generation} built from ${report.events.toLocaleString("en-US")} events in ${done.seconds.toFixed(1)}s ` +
        `(${Math.round(report.eventsPerSecond).toLocaleString("en-US")} events/s); ` +
        (skipVerify ? "readers switched without comparing it with the events" : "identical to the events; readers switched")
    )
    return report
  })

export const rebuild = Command.make(
  "rebuild",
  {
    projection: Argument.String("projection").pipe(Argument.withDescription("Read model to rebuild"), Argument.optional),
    all: Flag.Boolean("all").pipe(Flag.withDescription("Rebuild every read model"), Flag.withDefault(false)),
    batchSize: Flag.Int("batch-size").pipe(Flag.withDescription("Events per batch"), Flag.withDefault(10_000)),
    skipVerify: Flag.Boolean("skip-verify").pipe(
      Flag.withDescription("Switch readers without comparing the new generation with the events"),
      Flag.withDefault(false)
    )
  },
  ({ all, batchSize, projection, skipVerify }) =>
    Effect.gen(function*() {
      if (all === Option.isSome(projection)) {
        return yield* new UsageError({ message: "give one projection name or --all" })
      }
      if (batchSize < 1 || batchSize > 100_000) return yield* new UsageError({ message: "--batch-size must be 1..100000" })
      const names = Option.isSome(projection) ? [yield* checkName(projection.value)] : known()
      yield* Effect.forEach(names, (name) => rebuildOne(name, skipVerify), { discard: true }).pipe(Runtime.provide({ run: false, batchSize }))
    })
).pipe(Command.withDescription("Rebuild read models into a new generation and switch readers to it"))
