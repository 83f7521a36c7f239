/**
 * Copy-and-transform: a category with events of old schema versions is rewritten to current versions,
 * into another category of the same store and into another store; a dry run writes nothing; a re-run
 * after an interruption is idempotent; the rewritten streams fold to the same states.
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, Effect, Layer, Option, Stream } from "effect"
import { CategoryMigration, CommandHandler, EventStore, PgEventStore } from "../src/index.ts"
import { event } from "./fixtures.ts"
import { codec, decider } from "./support/Counter.ts"

const old = (type: string, data: unknown, schemaVersion: number) => ({ ...event(type, data), schemaVersion })

forEachDatabase((target) => {
  layer(PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer(target))), { excludeTestServices: true, timeout: "60 seconds" })(
    "category migration",
    (it) => {
      it.effect("rewrites a category to current versions; dry run first; idempotent re-run", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const ids = [crypto.randomUUID(), crypto.randomUUID()]
          yield* store.append(`tally-${ids[0]}`, "no_stream", [
            old("Incremented", { amount: "4" }, 1),
            old("IncrementedTwice", { each: 10 }, 1),
            old("Incremented", { by: 1 }, 3)
          ])
          yield* store.append(`tally-${ids[1]}`, "no_stream", [old("Incremented", { step: 6 }, 2), old("Reset", {}, 1)])
          const options = { category: "tally", codec, source: store, targetCategory: "tallyv2" }
          const dry = yield* CategoryMigration.run({ ...options, dryRun: true })
          assert.deepStrictEqual(dry, {
            streams: 2,
            eventsRead: 5,
            eventsWritten: 0,
            upcast: { "Incremented@1": 1, "IncrementedTwice@1": 1, "Incremented@2": 1 },
            streamsRenumbered: 1,
            dryRun: true
          })
          assert.deepStrictEqual(yield* store.streamInfo(`tallyv2-${ids[0]}`), Option.none())
          const done = yield* CategoryMigration.run({ ...options, dryRun: false })
          assert.strictEqual(done.eventsWritten, 6)
          const migrated = yield* store.readStream(`tallyv2-${ids[0]}`)
          assert.deepStrictEqual(migrated.map((e) => [e.type, e.schemaVersion, e.data]), [
            ["Incremented", 3, { by: 4 }],
            ["Incremented", 3, { by: 10 }],
            ["Incremented", 3, { by: 10 }],
            ["Incremented", 3, { by: 1 }]
          ])
          assert.deepInclude(migrated[1]!.metadata.migratedFrom as object, { type: "IncrementedTwice", schemaVersion: 1, version: 2 })
          const source = CommandHandler.make({ category: "tally", decider, codec })
          const copy = CommandHandler.make({ category: "tallyv2", decider, codec })
          for (const id of ids) assert.deepStrictEqual((yield* copy.load(id)).state, (yield* source.load(id)).state)
          // Running again (as after a crash) writes nothing new.
          const again = yield* CategoryMigration.run({ ...options, dryRun: false })
          assert.strictEqual(again.eventsWritten, 6)
          assert.strictEqual((yield* store.readStream(`tallyv2-${ids[0]}`)).length, 4)
        }))

      it.effect("copies into another store, keeping event ids", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const other = yield* Effect.map(Layer.build(PgEventStore.layer({ schema: "verity_v2" })), (c) => Context.get(c, EventStore))
          const id = crypto.randomUUID()
          const written = [old("Incremented", { amount: "2" }, 1)]
          yield* store.append(`moved-${id}`, "no_stream", written)
          const report = yield* CategoryMigration.run({ category: "moved", codec, source: store, target: other, dryRun: false })
          assert.strictEqual(report.eventsWritten, 1)
          const copied = yield* Stream.runCollect(other.streamAll({ categories: ["moved"] }))
          assert.deepStrictEqual(copied.map((e) => [e.eventId, e.schemaVersion, e.data]), [[written[0]!.eventId, 3, { by: 2 }]])
        }))
    }
  )
})
