/**
 * The command bus on the in-memory store and on PostgreSQL: commands reach their own aggregate's handler
 * and stream, metadata is filled once (a new correlation id by default, the command id as causation, given
 * ids win), untyped input is decoded first (`InvalidCommand`), rejections stay typed, and an idempotency
 * key runs a command once: a retry gets the original result, another command under the key is refused,
 * and a failed command records nothing. On PostgreSQL: two concurrent dispatches with one key append once,
 * and the record commits or rolls back with the append.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer, Option } from "effect"
import { CommandResults, EventStore, MemoryEventStore, PgCommandResults, PgEventStore } from "../src/index.ts"
import { bus, Counters, Switches } from "./support/Bus.ts"

const id = () => crypto.randomUUID()

const readStream = (stream: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    return yield* store.readStream(stream)
  })

const busSuite = <E>(label: string, storeLayer: Layer.Layer<EventStore | CommandResults, E>) =>
  layer(storeLayer, { excludeTestServices: true, timeout: "60 seconds" })(label, (it) => {
    it.effect("routes each command to its own aggregate's stream", () =>
      Effect.gen(function*() {
        const counterId = id()
        const switchId = id()
        const counted = yield* bus.dispatch({ _tag: "Increment", counterId, by: 3 })
        const switched = yield* bus.dispatch({ _tag: "TurnOn", switchId })
        assert.deepStrictEqual(counted.state, { count: 3, resets: 0 })
        assert.deepStrictEqual(switched.state, { on: true, flips: 1 })
        assert.deepStrictEqual((yield* readStream(Counters.streamOf(counterId))).map((e) => e.type), ["Incremented"])
        assert.deepStrictEqual((yield* readStream(Switches.streamOf(switchId))).map((e) => e.type), ["SwitchedOn"])
      }))

    it.effect("fills metadata once: a new correlation id, the command id as causation, given ids and keys win", () =>
      Effect.gen(function*() {
        const first = id()
        yield* bus.dispatch({ _tag: "Increment", counterId: first, by: 1 }, { commandId: "cmd-1", metadata: { actor: "alice" } })
        const [event] = yield* readStream(Counters.streamOf(first))
        const correlationId = String(event!.metadata.correlationId)
        assert.match(correlationId, /^[0-9a-f-]{36}$/)
        assert.deepStrictEqual(event!.metadata, { correlationId, causationId: "cmd-1", actor: "alice" })

        const second = id()
        yield* bus.dispatch({ _tag: "Increment", counterId: second, by: 1 }, {
          commandId: "cmd-2",
          correlationId: "corr-2",
          causationId: "event-9",
          metadata: { actor: "bob", correlationId: "ignored" }
        })
        const [other] = yield* readStream(Counters.streamOf(second))
        assert.deepStrictEqual(other!.metadata, { correlationId: "corr-2", causationId: "event-9", actor: "bob" })

        // Without a command id nor a causation, the events name no causation.
        const third = id()
        yield* bus.dispatch({ _tag: "TurnOn", switchId: third }, { correlationId: "corr-3" })
        const [plain] = yield* readStream(Switches.streamOf(third))
        assert.deepStrictEqual(plain!.metadata, { correlationId: "corr-3" })
      }))

    it.effect("dispatchUnknown decodes first: a valid input is dispatched, an invalid one is InvalidCommand", () =>
      Effect.gen(function*() {
        const switchId = id()
        const handled = yield* bus.dispatchUnknown({ _tag: "TurnOn", switchId })
        assert.strictEqual(handled.version, 1)
        const wrongField = yield* bus.dispatchUnknown({ _tag: "Increment", counterId: id(), by: "2" }).pipe(Effect.flip)
        assert.strictEqual(wrongField._tag, "InvalidCommand")
        assert.include(wrongField._tag === "InvalidCommand" ? wrongField.issue : "", "by")
        const unknownTag = yield* bus.dispatchUnknown({ _tag: "Explode" }).pipe(Effect.flip)
        assert.strictEqual(unknownTag._tag, "InvalidCommand")
      }))

    it.effect("rejections are the aggregate's own", () =>
      Effect.gen(function*() {
        const counter = yield* bus.dispatch({ _tag: "Increment", counterId: id(), by: 0 }).pipe(Effect.flip)
        assert.deepInclude(counter, { _tag: "NotPositive", by: 0 })
        const switchId = id()
        const off = yield* bus.dispatch({ _tag: "TurnOff", switchId }).pipe(Effect.flip)
        assert.deepInclude(off, { _tag: "NeverOn", switchId })
      }))

    it.effect("a retried command with the same key gets the original result and appends nothing", () =>
      Effect.gen(function*() {
        const counterId = id()
        const key = `key-${id()}`
        const command = { _tag: "Increment", counterId, by: 2 } as const
        const first = yield* bus.dispatch(command, { idempotencyKey: key })
        // Another command on the same stream in between: the retry still answers the original result.
        yield* bus.dispatch({ _tag: "Increment", counterId, by: 5 })
        const retried = yield* bus.dispatch(command, { idempotencyKey: key })
        assert.strictEqual(retried.version, first.version)
        assert.deepStrictEqual(retried.state, { count: 2, resets: 0 })
        assert.deepStrictEqual(retried.events, first.events)
        assert.deepStrictEqual(Option.getOrThrow(retried.appended), Option.getOrThrow(first.appended))
        const stored = yield* readStream(Counters.streamOf(counterId))
        assert.deepStrictEqual(stored.map((e) => e.data), [{ by: 2 }, { by: 5 }])
        assert.strictEqual(stored[0]!.metadata.idempotencyKey, key)
      }))

    it.effect("a key used for another command is refused", () =>
      Effect.gen(function*() {
        const key = `key-${id()}`
        const counterId = id()
        yield* bus.dispatch({ _tag: "Increment", counterId, by: 1 }, { idempotencyKey: key })
        const other = yield* bus.dispatch({ _tag: "Increment", counterId, by: 2 }, { idempotencyKey: key }).pipe(Effect.flip)
        assert.deepInclude(other, { _tag: "IdempotencyKeyReused", idempotencyKey: key })
        const otherAggregate = yield* bus.dispatch({ _tag: "TurnOn", switchId: counterId }, { idempotencyKey: key }).pipe(Effect.flip)
        assert.strictEqual(otherAggregate._tag, "IdempotencyKeyReused")
        assert.strictEqual((yield* readStream(Counters.streamOf(counterId))).length, 1)
      }))

    it.effect("a rejected command records nothing: a retry with the key decides again", () =>
      Effect.gen(function*() {
        const key = `key-${id()}`
        const switchId = id()
        const rejected = yield* bus.dispatch({ _tag: "TurnOff", switchId }, { idempotencyKey: key }).pipe(Effect.flip)
        assert.strictEqual(rejected._tag, "NeverOn")
        yield* bus.dispatch({ _tag: "TurnOn", switchId })
        const retried = yield* bus.dispatch({ _tag: "TurnOff", switchId }, { idempotencyKey: key })
        assert.deepStrictEqual(retried.state, { on: false, flips: 2 })
      }))

    it.effect("a no-op command is recorded too: its retry answers the same version without events", () =>
      Effect.gen(function*() {
        const key = `key-${id()}`
        const counterId = id()
        const first = yield* bus.dispatch({ _tag: "Reset", counterId }, { idempotencyKey: key })
        assert.isTrue(Option.isNone(first.appended))
        yield* bus.dispatch({ _tag: "Increment", counterId, by: 4 })
        const retried = yield* bus.dispatch({ _tag: "Reset", counterId }, { idempotencyKey: key })
        assert.strictEqual(retried.version, 0)
        assert.deepStrictEqual(retried.events, [])
        assert.isTrue(Option.isNone(retried.appended))
      }))

    it.effect("two concurrent dispatches with one key append once and answer the same result", () =>
      Effect.gen(function*() {
        const key = `key-${id()}`
        const counterId = id()
        const command = { _tag: "Increment", counterId, by: 7 } as const
        const [a, b] = yield* Effect.all([
          bus.dispatch(command, { idempotencyKey: key }),
          bus.dispatch(command, { idempotencyKey: key })
        ], { concurrency: "unbounded" })
        assert.strictEqual(a.version, 1)
        assert.strictEqual(b.version, 1)
        assert.deepStrictEqual(Option.getOrThrow(a.appended), Option.getOrThrow(b.appended))
        assert.strictEqual((yield* readStream(Counters.streamOf(counterId))).length, 1)
      }))
  })

busSuite("command bus on the in-memory store", Layer.merge(MemoryEventStore.layer(), CommandResults.layerMemory))

forEachDatabase((target) => {
  const pgLayer = Layer.mergeAll(PgEventStore.layer(), PgCommandResults.layer()).pipe(Layer.provideMerge(TestDatabase.layer(target)))
  busSuite("command bus on PostgreSQL", pgLayer)

  layer(pgLayer, { excludeTestServices: true, timeout: "60 seconds" })("command bus idempotency records on PostgreSQL", (it) => {
    const recorded = (key: string) =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const rows = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM verity.command_results WHERE idempotency_key = ${key}`
        return rows[0]!.n
      })

    it.effect("many concurrent dispatches with one key: one append, one record, every caller the same version", () =>
      Effect.gen(function*() {
        const key = `key-${id()}`
        const counterId = id()
        const results = yield* Effect.all(
          Array.from({ length: 8 }, () => bus.dispatch({ _tag: "Increment", counterId, by: 1 }, { idempotencyKey: key })),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(results.map((r) => r.version), Array.from({ length: 8 }, () => 1))
        assert.strictEqual((yield* readStream(Counters.streamOf(counterId))).length, 1)
        assert.strictEqual(yield* recorded(key), 1)
      }))

    it.effect("the record commits with the append: a caller's transaction that rolls back leaves neither", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const key = `key-${id()}`
        const counterId = id()
        const failed = yield* store.transaction(
          Effect.andThen(bus.dispatch({ _tag: "Increment", counterId, by: 1 }, { idempotencyKey: key }), Effect.fail("caller gives up" as const))
        ).pipe(Effect.flip)
        assert.strictEqual(failed, "caller gives up")
        assert.strictEqual(yield* recorded(key), 0)
        assert.strictEqual((yield* readStream(Counters.streamOf(counterId)).pipe(Effect.orElseSucceed(() => []))).length, 0)
        // The key is free again: the retry runs the command.
        const retried = yield* bus.dispatch({ _tag: "Increment", counterId, by: 1 }, { idempotencyKey: key })
        assert.strictEqual(retried.version, 1)
        assert.strictEqual(yield* recorded(key), 1)
      }))

    it.effect("a rejected command leaves no record", () =>
      Effect.gen(function*() {
        const key = `key-${id()}`
        yield* bus.dispatch({ _tag: "TurnOff", switchId: id() }, { idempotencyKey: key }).pipe(Effect.flip)
        assert.strictEqual(yield* recorded(key), 0)
      }))
  })
})
