/**
 * The generic command handler on a tiny counter domain, against PostgreSQL and the in-memory store:
 * decide/append, idempotent no-ops, typed rejections, retries on conflicts, If-Match, snapshots as a pure
 * cache, time travel, and reading stored events of older schema versions through upcasters.
 *
 * Batching (PostgreSQL): concurrent commands on one stream from one process are queued, decided in order and
 * appended together: none conflicts with another (even with a budget of one attempt), a rejected command or a
 * stale If-Match fails alone, each caller gets its own version, positions and state, and the events of a
 * batch share one transaction. Two stores on one database (two processes) still race: their conflicts are
 * retried, the cached state is dropped on conflict, and every command applies exactly once.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it as vit, layer } from "@effect/vitest"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Redacted, Schedule } from "effect"
import { CommandHandler, type EventStore, MemoryEventStore, PgEventStore } from "../src/index.ts"
import { EventStore as EventStoreService } from "../src/index.ts"
import { event } from "./fixtures.ts"
import { codec, decider, State } from "./support/Counter.ts"

const counter = CommandHandler.make({ category: "counter", decider, codec })
const snapshotted = CommandHandler.make({
  category: "counter",
  decider,
  codec,
  snapshot: { key: "counter-v1", schema: State, every: 5 }
})

const cached = CommandHandler.make({ category: "counter", decider, codec, cache: {} })

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

const N = 40
const byOf = (i: number) => i + 1

/** Every successful result agrees with the stored stream: its own events at its own versions and positions. */
const assertResultsMatchStream = (
  stream: string,
  results: ReadonlyArray<{ readonly by: number; readonly handled: CommandHandler.Handled<unknown, { readonly count: number }> }>
) =>
  Effect.gen(function*() {
    const store = yield* EventStoreService
    const stored = yield* store.readStream(stream)
    const prefix: Array<number> = [0]
    for (const event of stored) prefix.push(prefix[prefix.length - 1]! + ((event.data as { by?: number }).by ?? 0))
    for (const { by, handled } of results) {
      const mine = stored[handled.version - 1]!
      assert.deepStrictEqual(mine.data, { by }, `the event at version ${handled.version} is this caller's`)
      assert.strictEqual(mine.metadata.correlationId, `caller-${by}`)
      const appended = Option.getOrThrow(handled.appended)
      assert.strictEqual(appended.version, handled.version)
      assert.deepStrictEqual(appended.positions, [mine.position])
      // The state each caller sees is the fold of everything before it plus its own command.
      assert.strictEqual(handled.state.count, prefix[handled.version])
    }
    return stored
  })

forEachDatabase((target) => {
  layer(PgEventStore.layer().pipe(Layer.provide(TestDatabase.layer(target))), { excludeTestServices: true, timeout: "60 seconds" })(
    "command handler batches on PostgreSQL",
    (it) => {
      it.effect("concurrent commands on one stream never conflict: queued, decided in order, appended together", () =>
        Effect.gen(function*() {
          const counterId = id()
          // One attempt only: any conflict between commands of this process would fail its command.
          const results = yield* Effect.forEach(Array.from({ length: N }, (_, i) => byOf(i)), (by) =>
            Effect.map(
              counter.handle(counterId, { _tag: "Increment", by }, { maxAttempts: 1, metadata: { correlationId: `caller-${by}` } }),
              (handled) => ({ by, handled })
            ), { concurrency: "unbounded" })
          assert.deepStrictEqual(results.map((r) => r.handled.version).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1))
          const stored = yield* assertResultsMatchStream(`counter-${counterId}`, results)
          assert.deepStrictEqual(yield* counter.load(counterId), { state: { count: (N * (N + 1)) / 2, resets: 0 }, version: N })
          // Batched: far fewer transactions (appends) than commands.
          const transactions = new Set(stored.map((e) => e.transactionId)).size
          assert.isBelow(transactions, N / 2, `${N} commands in ${transactions} appends`)
        }))

      it.effect("a rejected command fails alone; the rest of its batch is applied", () =>
        Effect.gen(function*() {
          const counterId = id()
          const outcomes = yield* Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) => {
            const by = i % 4 === 3 ? -i : byOf(i)
            return Effect.map(
              Effect.exit(counter.handle(counterId, { _tag: "Increment", by }, { maxAttempts: 1, metadata: { correlationId: `caller-${by}` } })),
              (exit) => ({ by, exit })
            )
          }, { concurrency: "unbounded" })
          const ok: Array<{ by: number; handled: CommandHandler.Handled<unknown, { readonly count: number }> }> = []
          for (const { by, exit } of outcomes) {
            if (by < 0) {
              assert.isTrue(Exit.isFailure(exit))
              assert.deepInclude(yield* Effect.flip(exit), { _tag: "NotPositive", by })
            } else {
              assert.isTrue(Exit.isSuccess(exit), `deposit ${by} went through`)
              if (Exit.isSuccess(exit)) ok.push({ by, handled: exit.value })
            }
          }
          assert.strictEqual(ok.length, N - N / 4)
          yield* assertResultsMatchStream(`counter-${counterId}`, ok)
          const expected = ok.reduce((sum, r) => sum + r.by, 0)
          assert.deepStrictEqual(yield* counter.load(counterId), { state: { count: expected, resets: 0 }, version: ok.length })
        }))

      it.effect("If-Match inside a batch: checked against the version its command would be decided at; a stale one fails alone", () =>
        Effect.gen(function*() {
          const counterId = id()
          yield* counter.handle(counterId, { _tag: "Increment", by: 1 })
          // Ten clients pinned to version 1 and ten unpinned, all at once: exactly one pinned command wins.
          const outcomes = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) =>
              Effect.exit(
                counter.handle(counterId, { _tag: "Increment", by: 1 }, i % 2 === 0 ? { expectedVersion: 1, maxAttempts: 1 } : { maxAttempts: 1 })
              ),
            {
              concurrency: "unbounded"
            }
          )
          const pinned = outcomes.filter((_, i) => i % 2 === 0)
          const free = outcomes.filter((_, i) => i % 2 === 1)
          assert.isTrue(free.every(Exit.isSuccess), "unpinned commands never conflict inside one process")
          assert.strictEqual(pinned.filter(Exit.isSuccess).length, 1, "one pinned command applies at version 1")
          const winner = pinned.find(Exit.isSuccess)!
          assert.strictEqual(winner.value.version, 2)
          for (const exit of pinned.filter(Exit.isFailure)) {
            const error = yield* Effect.flip(exit)
            assert.strictEqual(error._tag, "WrongExpectedVersion")
            if (error._tag === "WrongExpectedVersion") {
              assert.strictEqual(error.expected, 1)
              assert.isAbove(error.actual, 1)
            }
          }
          assert.strictEqual((yield* counter.load(counterId)).version, 12)
        }))

      it.effect("commands inside callers' transactions and batched ones mix without a conflict", () =>
        Effect.gen(function*() {
          const store = yield* EventStoreService
          const counterId = id()
          yield* counter.handle(counterId, { _tag: "Increment", by: 1 })
          // Half run in a transaction of their own caller (they lock the row and append there), half are
          // batched; a batch that loses to such a transaction retries once, behind the row lock.
          const results = yield* Effect.forEach(Array.from({ length: 30 }, (_, i) => byOf(i)), (by) => {
            const handle = counter.handle(counterId, { _tag: "Increment", by }, { maxAttempts: 2 })
            return by % 2 === 0 ? store.transaction(handle) : handle
          }, { concurrency: "unbounded" })
          assert.strictEqual(new Set(results.map((r) => r.version)).size, 30, "every command has its own version")
          assert.deepStrictEqual(yield* counter.load(counterId), { state: { count: 1 + (30 * 31) / 2, resets: 0 }, version: 31 })
        }))

      it.effect("the committed-state cache answers like a fresh load, and a write from outside is noticed", () =>
        Effect.gen(function*() {
          const store = yield* EventStoreService
          const counterId = id()
          for (const by of [1, 2, 3]) yield* cached.handle(counterId, { _tag: "Increment", by })
          // Another writer (here: the store directly) appends behind the cache's back.
          yield* store.append(`counter-${counterId}`, 3, [{ ...event("Incremented", { by: 100 }), schemaVersion: 3 }])
          const next = yield* cached.handle(counterId, { _tag: "Increment", by: 4 }, { maxAttempts: 2 })
          assert.strictEqual(next.version, 5)
          assert.strictEqual(next.state.count, 110)
          // A no-op decided on the cache is checked against a fresh load too.
          yield* store.append(`counter-${counterId}`, 5, [{ ...event("Reset", {}), schemaVersion: 1 }])
          const noop = yield* cached.handle(counterId, { _tag: "Reset" })
          assert.deepStrictEqual(noop.events, [])
          assert.strictEqual(noop.version, 6)
        }))
    }
  )

  describe("command handler batches across processes", () => {
    vit.live("two stores on one database race; conflicts are retried and every command applies once", () =>
      Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const process = () => Layer.build(PgEventStore.layer().pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }))))
        const a = yield* process()
        const b = yield* process()
        const counterId = id()
        const run = (handler: typeof counter, context: typeof a, offset: number) =>
          Effect.forEach(Array.from({ length: N }, (_, i) => offset + byOf(i)), (by) =>
            Effect.map(
              handler.handle(counterId, { _tag: "Increment", by }, { maxAttempts: 50, metadata: { correlationId: `caller-${by}` } }),
              (handled) => ({ by, handled })
            ), { concurrency: "unbounded" }).pipe(Effect.provide(context))
        const [fromA, fromB] = yield* Effect.all([run(cached, a, 0), run(counter, b, 1000)], { concurrency: 2 })
        const all = [...fromA, ...fromB]
        assert.strictEqual(new Set(all.map((r) => r.handled.version)).size, 2 * N, "every command has its own version")
        yield* assertResultsMatchStream(`counter-${counterId}`, all).pipe(Effect.provide(a))
        const total = all.reduce((sum, r) => sum + r.by, 0)
        assert.deepStrictEqual(yield* counter.load(counterId).pipe(Effect.provide(b)), { state: { count: total, resets: 0 }, version: 2 * N })
      }))

    vit.live("lockStream: false outside a transaction; inside one it holds the stream's other writers until commit", () =>
      Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const context = yield* Layer.build(
          PgEventStore.layer().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })))
        )
        yield* Effect.gen(function*() {
          const store = yield* EventStoreService
          const sql = yield* PgClient.PgClient
          const stream = `counter-${id()}`
          yield* store.append(stream, "no_stream", [{ ...event("Incremented", { by: 1 }), schemaVersion: 3 }])
          assert.isFalse(yield* store.lockStream(stream), "outside a transaction nothing is locked")
          const locked = yield* Deferred.make<void>()
          // Forked before the transaction, so its append does not join it.
          const other = yield* Effect.forkChild(
            Deferred.await(locked).pipe(Effect.andThen(store.append(stream, "any", [{ ...event("Incremented", { by: 2 }), schemaVersion: 3 }])))
          )
          yield* sql.withTransaction(Effect.gen(function*() {
            assert.isTrue(yield* store.lockStream(stream))
            yield* Deferred.succeed(locked, undefined)
            // Wait until the other writer is blocked by this transaction (pg_locks is live; pg_stat_activity
            // would be a snapshot taken once per transaction), then write inside the transaction.
            yield* sql<{ readonly n: bigint }>`SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))`
              .pipe(
                Effect.flatMap((rows) => Number(rows[0]?.n ?? 0) > 0 ? Effect.void : Effect.fail("not yet")),
                Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 500 })
              )
            yield* store.append(stream, 1, [{ ...event("Incremented", { by: 3 }), schemaVersion: 3 }])
          }))
          const theirs = yield* Fiber.join(other)
          assert.strictEqual(theirs.version, 3, "the other writer waited for the transaction and wrote after it")
          const stored = yield* store.readStream(stream)
          assert.deepStrictEqual(stored.map((e) => e.data), [{ by: 1 }, { by: 3 }, { by: 2 }])
        }).pipe(Effect.provide(context))
      }))

    vit.live("an event the store refuses fails its own command only", () =>
      Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const small = yield* Layer.build(
          PgEventStore.layer({ limits: { maxEventBytes: 300 } }).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })))
        )
        const counterId = id()
        const outcomes = yield* Effect.forEach(Array.from({ length: 12 }, (_, i) => byOf(i)), (by) =>
          Effect.exit(counter.handle(counterId, { _tag: "Increment", by }, {
            metadata: by === 6 ? { correlationId: `caller-${by}`, note: "x".repeat(1000) } : { correlationId: `caller-${by}` }
          })), { concurrency: "unbounded" }).pipe(Effect.provide(small))
        outcomes.forEach((exit, i) => {
          if (byOf(i) === 6) {
            assert.include(Exit.isFailure(exit) ? exit.cause.toString() : "", "InvalidEvent")
          } else assert.isTrue(Exit.isSuccess(exit), `command ${byOf(i)} applied`)
        })
        assert.deepStrictEqual(
          yield* counter.load(counterId).pipe(Effect.provide(small)),
          { state: { count: 78 - 6, resets: 0 }, version: 11 }
        )
      }))
  })
})
