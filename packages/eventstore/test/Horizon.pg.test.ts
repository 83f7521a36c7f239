/**
 * The visibility horizon depends only on transactions that append events (src/postgres/Horizon.ts):
 * - an unrelated open transaction, in this database or another one of the server, never holds readers back;
 * - an open appending transaction does, and `backlog` names it (pid, application name);
 * - an append in a transaction that wrote before announcing itself is refused and writes nothing;
 * - an older transaction appending after a newer one keeps the stream's version order in the global order;
 * - under 16 concurrent writers of every kind, next to an unrelated open transaction, a subscriber receives
 *   every committed event exactly once, each stream in version order;
 * - events cannot be updated, deleted or truncated, except in a maintenance transaction.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { type Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Option, Redacted, Ref, Stream } from "effect"
import { isSqlError } from "effect/sql/SqlError"
import { Checkpoint, EventStore, PgEventStore, type RecordedEvent } from "../src/index.ts"
import { event, events, streamName } from "./fixtures.ts"

/** Everything readable now after `from`, page by page. */
const readAllNow = (store: EventStore["Service"], from: Checkpoint.Checkpoint) =>
  store.streamAll({ from }).pipe(Stream.runCollect, Effect.map((chunk) => Array.from(chunk)))

/** Holds a transaction open on `sql` after `body` ran, until `release` completes. */
const holdOpen = <E, R>(
  run: (effect: Effect.Effect<void>) => Effect.Effect<void, E, R>,
  body: Effect.Effect<void, unknown>
) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const fiber = yield* run(Effect.gen(function*() {
      yield* Effect.orDie(body)
      yield* Deferred.succeed(ready, undefined)
      yield* Deferred.await(release)
    })).pipe(Effect.forkChild)
    yield* Deferred.await(ready)
    return { release: Deferred.succeed(release, undefined).pipe(Effect.andThen(Fiber.join(fiber))) }
  })

const sqlStateOf = (cause: Cause.Cause<unknown>): string | undefined => {
  for (const reason of cause.reasons) {
    const error: unknown = reason._tag === "Die" ? reason.defect : reason._tag === "Fail" ? reason.error : undefined
    if (isSqlError(error)) {
      const code: unknown = (error.reason.cause as { readonly code?: unknown } | undefined)?.code
      if (typeof code === "string") return code
    }
  }
  return undefined
}

forEachDatabase((target) => {
  const storeWithClient = PgEventStore.layer().pipe(
    Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 24 }))
  )

  layer(storeWithClient, { excludeTestServices: true, timeout: "120 seconds" })("the horizon", (it) => {
    it.effect("an unrelated open transaction in this database never holds readers back", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const store = yield* EventStore
        yield* sql`CREATE TABLE IF NOT EXISTS unrelated (id serial PRIMARY KEY)`
        const start = (yield* store.horizon).checkpoint
        const held = yield* holdOpen((effect) => sql.withTransaction(effect), sql`INSERT INTO unrelated DEFAULT VALUES`.pipe(Effect.asVoid))
        const stream = streamName("free")
        yield* store.append(stream, "no_stream", events(2))
        const read = yield* readAllNow(store, start)
        assert.deepStrictEqual(read.filter((e) => e.streamId === stream).map((e) => e.version), [1, 2])
        const backlog = yield* store.backlog({ from: start })
        assert.isTrue(Option.isNone(backlog.heldBackBy))
        yield* held.release
      }))

    it.effect("an open transaction in another database of the server never holds readers back", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const other = yield* Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })).pipe(
          Effect.map((context) => Context.get(context, PgClient.PgClient))
        )
        yield* other`CREATE TABLE busy (id serial PRIMARY KEY)`
        // Another database's store, appending and holding its transaction open: still unrelated to ours.
        const held = yield* holdOpen((effect) => other.withTransaction(effect), other`INSERT INTO busy DEFAULT VALUES`.pipe(Effect.asVoid))
        const start = (yield* store.horizon).checkpoint
        const stream = streamName("elsewhere")
        yield* store.append(stream, "no_stream", events(1))
        const read = yield* readAllNow(store, start)
        assert.deepStrictEqual(read.map((e) => e.streamId), [stream])
        yield* held.release
      }))

    it.effect("an open appending transaction holds later commits back, and backlog names it", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const store = yield* EventStore
        const start = (yield* store.horizon).checkpoint
        const early = streamName("early")
        const late = streamName("late")
        const pid = yield* Ref.make(0)
        const held = yield* holdOpen(
          (effect) => Effect.orDie(store.transaction(effect)),
          Effect.gen(function*() {
            yield* sql`SET LOCAL application_name = 'verity-horizon-test'`
            const rows = yield* sql<{ readonly pid: number }>`SELECT pg_backend_pid() AS pid`
            yield* Ref.set(pid, rows[0]!.pid)
            yield* store.append(early, "no_stream", events(1))
          })
        )
        yield* store.append(late, "no_stream", events(1))
        assert.deepStrictEqual(yield* readAllNow(store, start), [], "read past an open appending transaction")
        const backlog = yield* store.backlog({ from: start })
        assert.isTrue(Option.isSome(backlog.heldBackBy), "backlog does not name the transaction readers wait for")
        const holder = Option.getOrThrow(backlog.heldBackBy)
        assert.strictEqual(holder.pid, yield* Ref.get(pid))
        assert.strictEqual(holder.applicationName, "verity-horizon-test")
        assert.strictEqual(holder.state, "idle in transaction")
        yield* held.release
        const read = yield* readAllNow(store, start)
        // The open transaction's event comes first: it was given its id first.
        assert.deepStrictEqual(read.map((e) => e.streamId), [early, late])
        assert.isTrue(Option.isNone((yield* store.backlog({ from: start })).heldBackBy))
      }))

    it.effect("an append after other writes of its transaction, unannounced, is refused and writes nothing", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const store = yield* EventStore
        yield* sql`CREATE TABLE IF NOT EXISTS side (id serial PRIMARY KEY)`
        const stream = streamName("late")
        const exit = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO side DEFAULT VALUES`
          yield* store.append(stream, "no_stream", events(1))
        })).pipe(Effect.exit)
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(sqlStateOf((exit as Exit.Failure<unknown, unknown>).cause), "V0001")
        assert.isTrue(Option.isNone(yield* store.streamInfo(stream)), "the refused append left a stream behind")
        // Announced, the same transaction appends.
        yield* store.transaction(Effect.gen(function*() {
          yield* sql`INSERT INTO side DEFAULT VALUES`
          yield* store.append(stream, "no_stream", events(1))
        }))
        assert.strictEqual((yield* store.readStream(stream)).length, 1)
      }))

    it.effect("an older transaction appending after a newer one keeps the stream's order in the global order", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const store = yield* EventStore
        yield* sql`CREATE TABLE IF NOT EXISTS side (id serial PRIMARY KEY)`
        const start = (yield* store.horizon).checkpoint
        const stream = streamName("ordered")
        const gotId = yield* Deferred.make<void>()
        const go = yield* Deferred.make<void>()
        // The older transaction takes its id first (its own write), then appends version 2 after the newer
        // one committed version 1.
        const older = yield* store.transaction(Effect.gen(function*() {
          yield* sql`INSERT INTO side DEFAULT VALUES`
          yield* Deferred.succeed(gotId, undefined)
          yield* Deferred.await(go)
          yield* store.append(stream, 1, [event("Second")])
        })).pipe(Effect.orDie, Effect.forkChild)
        yield* Deferred.await(gotId)
        yield* store.append(stream, "no_stream", [event("First")])
        yield* Deferred.succeed(go, undefined)
        yield* Fiber.join(older)
        const read = (yield* readAllNow(store, start)).filter((e) => e.streamId === stream)
        assert.deepStrictEqual(read.map((e) => e.type), ["First", "Second"])
        assert.isTrue(Checkpoint.Order(read[0]!.checkpoint, read[1]!.checkpoint) < 0)
      }))

    it.effect("16 writers of every kind next to an unrelated open transaction: every event once, in stream order", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const store = yield* EventStore
        yield* sql`CREATE TABLE IF NOT EXISTS side (id serial PRIMARY KEY)`
        const start = (yield* store.horizon).checkpoint
        const unrelated = yield* holdOpen((effect) => sql.withTransaction(effect), sql`INSERT INTO side DEFAULT VALUES`.pipe(Effect.asVoid))
        const category = `mix${Math.random().toString(36).slice(2, 8)}`
        const streams = Array.from({ length: 8 }, () => streamName(category))
        const received = yield* Ref.make<ReadonlyArray<RecordedEvent>>([])
        const written = yield* Ref.make(0)
        const subscriber = yield* store.subscribe({ from: start, categories: [category], pollInterval: 20 }).pipe(
          Stream.runForEach((batch) => Ref.update(received, (all) => [...all, ...batch.events])),
          Effect.forkChild
        )
        const writer = (id: number) =>
          Effect.gen(function*() {
            for (let round = 0; round < 15; round++) {
              const stream = streams[(id + round) % streams.length]!
              const kind = (id + round) % 3
              const n = 1 + (round % 3)
              const write = kind === 0
                ? store.append(stream, "any", events(n))
                : kind === 1
                ? store.appendMany([{ stream, expected: "any", events: events(n) }, {
                  stream: streams[(id + round + 1) % streams.length]!,
                  expected: "any",
                  events: events(1)
                }]).pipe(Effect.as(undefined))
                // A transaction that writes before it appends, and stays open a moment.
                : store.transaction(Effect.gen(function*() {
                  yield* sql`INSERT INTO side DEFAULT VALUES`
                  yield* Effect.yieldNow
                  yield* store.append(stream, "any", events(n))
                }))
              yield* Effect.orDie(write)
              yield* Ref.update(written, (k) => k + n + (kind === 1 ? 1 : 0))
            }
          })
        yield* Effect.forEach(Array.from({ length: 16 }, (_, i) => i), writer, { concurrency: "unbounded", discard: true })
        const total = yield* Ref.get(written)
        yield* eventually("every event to arrive", Effect.map(Ref.get(received), (all) => all.length >= total))
        yield* unrelated.release
        yield* Fiber.interrupt(subscriber)
        const all = yield* Ref.get(received)
        assert.strictEqual(all.length, total)
        assert.strictEqual(new Set(all.map((e) => e.eventId)).size, total, "an event arrived twice")
        for (const stream of streams) {
          const versions = all.filter((e) => e.streamId === stream).map((e) => e.version)
          assert.deepStrictEqual(versions, Array.from({ length: versions.length }, (_, i) => i + 1), `${stream} out of order`)
        }
      }))

    it.effect("events cannot be updated, deleted or truncated, except in a maintenance transaction", () =>
      Effect.gen(function*() {
        const sql = yield* PgClient.PgClient
        const store = yield* EventStore
        const stream = streamName("fixed")
        yield* store.append(stream, "no_stream", [event("Kept", { n: 1 })])
        for (
          const statement of [
            sql`UPDATE verity.events SET data = '{"n":2}' WHERE stream_id = ${stream}`,
            sql`DELETE FROM verity.events WHERE stream_id = ${stream}`,
            sql`TRUNCATE verity.events`
          ]
        ) {
          const exit = yield* Effect.exit(statement)
          assert.isTrue(Exit.isFailure(exit))
          assert.strictEqual(sqlStateOf((exit as Exit.Failure<unknown, unknown>).cause), "V0002")
        }
        assert.deepStrictEqual((yield* store.readStream(stream)).map((e) => e.data), [{ n: 1 }])
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SET LOCAL verity.maintenance = 'on'`
          yield* sql`UPDATE verity.events SET data = '{"n":2}' WHERE stream_id = ${stream}`
        }))
        assert.deepStrictEqual((yield* store.readStream(stream)).map((e) => e.data), [{ n: 2 }])
      }))
  })
})
