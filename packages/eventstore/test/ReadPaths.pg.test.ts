/**
 * The PostgreSQL store's read paths against the table itself:
 * - `streamAll` (which reads the pages below a horizon it computed without computing it again) returns the
 *   events of a plain `SELECT ... ORDER BY transaction_id, position`, in that order, across page boundaries,
 *   and the same events as `readAll` page by page;
 * - with an open appending transaction holding the horizon, a pass stops below it, and after its commit a
 *   pass returns its events before those committed after it;
 * - every field of a read event is the one written: metadata parsed once per run of equal texts still
 *   gives each event its own, versions are numbers, checkpoints are `Checkpoint.make(tx, position)`.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import { Checkpoint, EventStore, PgEventStore, type RecordedEvent } from "../src/index.ts"
import { event, events, streamName } from "./fixtures.ts"

const collect = (stream: Stream.Stream<RecordedEvent, unknown>) => stream.pipe(Stream.runCollect, Effect.map((chunk) => Array.from(chunk)))

/** Every readable event after `from`, by `readAll` pages of `limit` until one is caught up. */
const pages = (store: EventStore["Service"], from: Checkpoint.Checkpoint, limit: number) =>
  Effect.gen(function*() {
    const read: Array<RecordedEvent> = []
    let checkpoint = from
    while (true) {
      const page = yield* store.readAll({ from: checkpoint, limit })
      read.push(...page.events)
      checkpoint = page.checkpoint
      if (page.caughtUp) return read
    }
  })

const positions = (read: ReadonlyArray<RecordedEvent>) => read.map((e) => e.position)

forEachDatabase((target) => {
  const storeWithClient = PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 8 })))

  layer(storeWithClient, { excludeTestServices: true, timeout: "60 seconds" })("read paths", (it) => {
    it.effect("streamAll returns the table's rows in (transaction id, position) order across page boundaries", () =>
      Effect.gen(function*() {
        const sql = (yield* PgClient.PgClient).withoutTransforms()
        const store = yield* EventStore
        const start = (yield* store.horizon).checkpoint
        const a = streamName("paths")
        const b = streamName("paths")
        yield* store.append(a, "no_stream", events(7), { metadata: { actor: "alice" } })
        yield* store.append(b, "no_stream", events(5), { metadata: { actor: "bob" } })
        yield* store.append(a, 7, events(9))
        const { position, transactionId } = Checkpoint.parts(start)
        const table = yield* sql<{ readonly position: bigint }>`
          SELECT position FROM verity.events
          WHERE (transaction_id, position) > (${transactionId.toString()}::xid8, ${position})
          ORDER BY transaction_id, position`
        assert.strictEqual(table.length, 21)
        for (const limit of [1, 4, 7, 21, 100]) {
          const streamed = yield* collect(store.streamAll({ from: start, limit }))
          assert.deepStrictEqual(positions(streamed), table.map((row) => row.position), `streamAll, pages of ${limit}`)
          assert.deepStrictEqual(streamed, yield* pages(store, start, limit), `readAll pages of ${limit}`)
        }
        // A pass from the middle resumes right after the checkpoint it was given.
        const all = yield* collect(store.streamAll({ from: start, limit: 4 }))
        const rest = yield* collect(store.streamAll({ from: all[9]!.checkpoint, limit: 4 }))
        assert.deepStrictEqual(positions(rest), positions(all.slice(10)))
        // The same through a category filter.
        const filtered = yield* collect(store.streamAll({ from: start, limit: 2, categories: ["paths"] }))
        assert.deepStrictEqual(positions(filtered), positions(all))
      }))

    it.effect("an open appending transaction stops a pass below it; after its commit its events come first", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const start = (yield* store.horizon).checkpoint
        const before = streamName("held")
        const open = streamName("held")
        const after = streamName("held")
        yield* store.append(before, "no_stream", events(5))
        const appended = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const holder = yield* store.transaction(Effect.gen(function*() {
          yield* store.append(open, "no_stream", events(3))
          yield* Deferred.succeed(appended, undefined)
          yield* Deferred.await(release)
        })).pipe(Effect.forkChild)
        yield* Deferred.await(appended)
        yield* store.append(after, "no_stream", events(4))
        // Pages of 2: a full page that computed the horizon, then pages below it, then a caught-up one.
        const held = yield* collect(store.streamAll({ from: start, limit: 2 }))
        assert.deepStrictEqual(held.map((e) => e.streamId), Array(5).fill(before))
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        const released = yield* collect(store.streamAll({ from: start, limit: 2 }))
        assert.deepStrictEqual(released.map((e) => e.streamId), [...Array(5).fill(before), ...Array(3).fill(open), ...Array(4).fill(after)])
        // Resuming from where the held pass ended reads exactly the rest.
        const resumed = yield* collect(store.streamAll({ from: held[held.length - 1]!.checkpoint, limit: 2 }))
        assert.deepStrictEqual(positions(resumed), positions(released.slice(5)))
      }))

    it.effect("every field of a read event is the one written", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName("fields")
        const written = [
          event("Opened", { owner: "alice" }),
          event("Deposited", { amount: 1 }),
          event("Deposited", { amount: 2 }, { causationId: "own" }),
          event("Deposited", { amount: 3 }),
          event("Deposited", { amount: 4 }, { causationId: "own" })
        ]
        yield* store.append(stream, "no_stream", written, { metadata: { correlationId: "c-1", actor: "alice" } })
        const read = yield* store.readStream(stream)
        const backwards = yield* store.readStream(stream, { direction: "backwards" })
        const start = Checkpoint.make(read[0]!.transactionId - 1n, 0n)
        const global = (yield* collect(store.streamAll({ from: start, limit: 2 }))).filter((e) => e.streamId === stream)
        for (const events of [read, [...backwards].reverse(), global]) {
          assert.deepStrictEqual(events.map((e) => e.version), [1, 2, 3, 4, 5])
          assert.deepStrictEqual(events.map((e) => e.eventId), written.map((e) => e.eventId))
          assert.deepStrictEqual(events.map((e) => e.type), written.map((e) => e.type))
          assert.deepStrictEqual(events.map((e) => e.data), written.map((e) => e.data))
          assert.deepStrictEqual(
            events.map((e) => e.metadata),
            written.map((e) => ({ correlationId: "c-1", actor: "alice", ...e.metadata }))
          )
          for (const e of events) {
            assert.strictEqual(e.streamId, stream)
            assert.strictEqual(e.schemaVersion, 1)
            assert.strictEqual(typeof e.version, "number")
            assert.strictEqual(typeof e.position, "bigint")
            assert.strictEqual(e.checkpoint, Checkpoint.make(e.transactionId, e.position))
            assert.isTrue(e.recordedAt instanceof Date && !Number.isNaN(e.recordedAt.getTime()))
          }
        }
        const snapshotted = yield* store.readStreamWithSnapshot(stream, "none")
        assert.deepStrictEqual(snapshotted.events, read)
        assert.strictEqual(snapshotted.version, 5)
      }))
  })
})
