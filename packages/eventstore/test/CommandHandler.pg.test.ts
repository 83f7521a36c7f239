/**
 * The generic command handler on a tiny counter domain, against PostgreSQL and the in-memory store:
 * decide/append, idempotent no-ops, typed rejections, retries on conflicts, If-Match, snapshots as a pure
 * cache, time travel, and reading stored events of older schema versions through upcasters.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { CommandHandler, type EventStore, MemoryEventStore, PgEventStore } from "../src/index.ts"
import { EventStore as EventStoreService } from "../src/index.ts"
import { forEachDatabase, TestDatabase } from "../src/testing/index.ts"
import { event } from "./fixtures.ts"
import { codec, decider, State } from "./support/Counter.ts"

const counter = CommandHandler.make({ category: "counter", decider, codec })
const snapshotted = CommandHandler.make({
  category: "counter",
  decider,
  codec,
  snapshot: { key: "counter-v1", schema: State, every: 5 }
})

const id = () => crypto.randomUUID()

const handlerSuite = <E>(label: string, storeLayer: Layer.Layer<EventStore, E>) =>
  layer(storeLayer, { excludeTestServices: true, timeout: "60 seconds" })(label, (it) => {
    it.effect("decides, appends and folds", () =>
      Effect.gen(function*() {
        const counterId = id()
        const first = yield* counter.handle(counterId, { _tag: "Increment", by: 2 })
        assert.strictEqual(first.version, 1)
        assert.deepStrictEqual(first.state, { count: 2, resets: 0 })
        assert.isTrue(Option.isSome(first.appended))
        yield* counter.handle(counterId, { _tag: "Increment", by: 3 })
        assert.deepStrictEqual(yield* counter.load(counterId), { state: { count: 5, resets: 0 }, version: 2 })
        const store = yield* EventStoreService
        const stored = yield* store.readStream(`counter-${counterId}`)
        assert.deepStrictEqual(stored.map((e) => [e.type, e.schemaVersion, e.data]), [
          ["Incremented", 3, { by: 2 }],
          ["Incremented", 3, { by: 3 }]
        ])
      }))

    it.effect("a command already satisfied decides nothing and writes nothing", () =>
      Effect.gen(function*() {
        const counterId = id()
        const result = yield* counter.handle(counterId, { _tag: "Reset" })
        assert.deepStrictEqual(result.events, [])
        assert.strictEqual(result.version, 0)
        assert.isTrue(Option.isNone(result.appended))
      }))

    it.effect("a rejection is a typed failure and changes nothing", () =>
      Effect.gen(function*() {
        const counterId = id()
        yield* counter.handle(counterId, { _tag: "Increment", by: 1 })
        const rejected = yield* counter.handle(counterId, { _tag: "Increment", by: -4 }).pipe(Effect.flip)
        assert.deepInclude(rejected, { _tag: "NotPositive", by: -4 })
        assert.strictEqual((yield* counter.load(counterId)).version, 1)
      }))

    it.effect("concurrent commands on one aggregate all apply exactly once (conflicts are retried)", () =>
      Effect.gen(function*() {
        const counterId = id()
        yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i + 1), (by) =>
          counter.handle(counterId, { _tag: "Increment", by }, { maxAttempts: 50 }), { concurrency: "unbounded", discard: true })
        assert.deepStrictEqual(yield* counter.load(counterId), { state: { count: 210, resets: 0 }, version: 20 })
      }))

    it.effect("an expected version (If-Match) that is stale fails at once", () =>
      Effect.gen(function*() {
        const counterId = id()
        yield* counter.handle(counterId, { _tag: "Increment", by: 1 })
        const stale = yield* counter.handle(counterId, { _tag: "Increment", by: 1 }, { expectedVersion: 0 }).pipe(Effect.flip)
        assert.deepInclude(stale, { _tag: "WrongExpectedVersion", expected: 0, actual: 1 })
        const ok = yield* counter.handle(counterId, { _tag: "Increment", by: 1 }, { expectedVersion: 1 })
        assert.strictEqual(ok.version, 2)
      }))

    it.effect("metadata flows into the stored events", () =>
      Effect.gen(function*() {
        const counterId = id()
        yield* counter.handle(counterId, { _tag: "Increment", by: 1 }, { metadata: { correlationId: "req-42", actor: "test" } })
        const store = yield* EventStoreService
        const [stored] = yield* store.readStream(`counter-${counterId}`)
        assert.deepStrictEqual(stored!.metadata, { correlationId: "req-42", actor: "test" })
      }))

    it.effect("snapshots are taken every N events and loading from one equals the full fold", () =>
      Effect.gen(function*() {
        const store = yield* EventStoreService
        const counterId = id()
        for (let i = 1; i <= 12; i++) {
          yield* snapshotted.handle(counterId, i % 4 === 0 ? { _tag: "Reset" } : { _tag: "Increment", by: i })
        }
        const withSnapshot = yield* store.readStreamWithSnapshot(`counter-${counterId}`, "counter-v1")
        assert.strictEqual(Option.getOrThrow(withSnapshot.snapshot).version, 10)
        assert.deepStrictEqual(withSnapshot.events.map((e) => e.version), [11, 12])
        const fromSnapshot = yield* snapshotted.load(counterId)
        const full = yield* counter.load(counterId)
        assert.deepStrictEqual(fromSnapshot, full)
        yield* store.deleteSnapshots(`counter-${counterId}`)
        assert.deepStrictEqual(yield* snapshotted.load(counterId), full)
        // A snapshot whose state no longer decodes is a stale cache entry: ignored.
        yield* store.saveSnapshot({ streamId: `counter-${counterId}`, key: "counter-v1", version: 12, state: { nonsense: true } })
        assert.deepStrictEqual(yield* snapshotted.load(counterId), full)
      }))

    it.effect("time travel: the state as of a version equals the fold of that prefix", () =>
      Effect.gen(function*() {
        const counterId = id()
        for (const by of [5, 7, 11]) yield* counter.handle(counterId, { _tag: "Increment", by })
        assert.deepStrictEqual(yield* counter.loadAt(counterId, { version: 2 }), { state: { count: 12, resets: 0 }, version: 2 })
        assert.deepStrictEqual(yield* counter.loadAt(counterId, { version: 0 }), { state: { count: 0, resets: 0 }, version: 0 })
      }))

    it.effect("events stored at older schema versions are upcast, renamed and split on read", () =>
      Effect.gen(function*() {
        const store = yield* EventStoreService
        const counterId = id()
        yield* store.append(`counter-${counterId}`, "no_stream", [
          { ...event("Incremented", { amount: "4" }), schemaVersion: 1 },
          { ...event("Incremented", { step: 6 }), schemaVersion: 2 },
          { ...event("IncrementedTwice", { each: 10 }), schemaVersion: 1 }
        ])
        assert.deepStrictEqual(yield* counter.load(counterId), { state: { count: 30, resets: 0 }, version: 3 })
        yield* store.append(`counter-${counterId}`, 3, [{ ...event("Incremented", { by: "x" }), schemaVersion: 3 }])
        const broken = yield* counter.load(counterId).pipe(Effect.flip)
        assert.deepInclude(broken, { _tag: "EventDecodeError", stream: `counter-${counterId}`, version: 4, type: "Incremented" })
        const unknown = id()
        yield* store.append(`counter-${unknown}`, "no_stream", [event("Exploded", {})])
        assert.deepInclude(yield* counter.load(unknown).pipe(Effect.flip), { _tag: "EventDecodeError", type: "Exploded" })
      }))
  })

handlerSuite("command handler on the in-memory store", MemoryEventStore.layer())

forEachDatabase((target) => {
  handlerSuite("command handler on PostgreSQL", PgEventStore.layer().pipe(Layer.provide(TestDatabase.layer(target))))
})
