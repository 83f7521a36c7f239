/**
 * Group commit against PostgreSQL: appends queued behind a group in flight are written together in one
 * transaction, and each caller still gets its own answer. To make the grouping certain, the tests hold the
 * group in flight: a transaction locks a stream's row, an append to that stream (the leader, alone) waits
 * on the lock, and the appends started meanwhile queue (one group at a time); releasing the lock lets the
 * leader finish and the queued appends go as ONE group (they share a transaction id).
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Option, Result } from "effect"
import { Checkpoint, EventStore, type ExpectedVersion, type NewEvent, PgEventStore } from "../src/index.ts"
import { event, events, streamName } from "./fixtures.ts"

interface Spec {
  readonly stream: string
  readonly expected: ExpectedVersion.ExpectedVersion
  readonly events: ReadonlyArray<NewEvent>
}

/** Locks `stream`'s row in a transaction of its own until `release` is completed. */
const holdRow = (stream: string) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const locked = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const holder = yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT 1 FROM verity.streams WHERE stream_id = ${stream} FOR UPDATE`
      yield* Deferred.succeed(locked, undefined)
      yield* Deferred.await(release)
    })).pipe(Effect.forkChild)
    yield* Deferred.await(locked)
    return { release: Effect.andThen(Deferred.succeed(release, undefined), Fiber.join(holder)) }
  })

/** Sessions of this database waiting on a lock (the probe of the waits below). */
const lockWaiters = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  return yield* sql<{ readonly pid: number }>`SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock'`
})

/**
 * Starts `specs` as one group behind a held leader and lets the group go; answers the leader's result and
 * the members' fibers (each yields its append's result).
 */
const startGroup = (specs: ReadonlyArray<Spec>) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const blocker = streamName("blocker")
    yield* store.append(blocker, "no_stream", [event("Opened")])
    const held = yield* holdRow(blocker)
    const waitersBefore = (yield* lockWaiters).length
    // Started synchronously, in this order: the leader takes the only group slot, the others queue.
    const leader = yield* store.append(blocker, 1, [event("Leader")]).pipe(Effect.forkChild({ startImmediately: true }))
    const members = yield* Effect.forEach(specs, (spec) =>
      store.append(spec.stream, spec.expected, spec.events).pipe(Effect.result, Effect.forkChild({ startImmediately: true })))
    yield* eventually("the leader to wait on the held row lock", lockWaiters, (rows) =>
      rows.length > waitersBefore)
    yield* held.release
    return { leader: yield* Fiber.join(leader), members }
  })

/** Runs `specs` as one group behind a held leader; answers each append's result (in order) and the leader's. */
const asOneGroup = (specs: ReadonlyArray<Spec>) =>
  Effect.gen(function*() {
    const { leader, members } = yield* startGroup(specs)
    return { leader, results: yield* Effect.forEach(members, Fiber.join) }
  })

/** A result for an assertion message (positions are bigints, which JSON cannot print). */
const show = (result: Result.Result<unknown, { readonly _tag: string }>) => (Result.isFailure(result) ? result.failure._tag : "success")

const txOf = (checkpoint: Checkpoint.Checkpoint) => Checkpoint.parts(checkpoint).transactionId

forEachDatabase((target) => {
  const store = PgEventStore.layer({ groupCommit: { concurrency: 1 } }).pipe(
    Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 8 }))
  )

  describe("group commit", () => {
    layer(store, { excludeTestServices: true, timeout: "60 seconds" })("one group, many callers", (it) => {
      it.effect("each caller gets its own result or its own typed refusal; only the conflicting ones fail", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const existing = Array.from({ length: 4 }, () => streamName("existing"))
          for (const stream of existing) yield* store.append(stream, "no_stream", events(2))
          const tombstoned = streamName("gone")
          yield* store.append(tombstoned, "no_stream", events(1))
          yield* store.tombstoneStream(tombstoned)
          const deleted = streamName("deleted")
          yield* store.append(deleted, "no_stream", events(1))
          yield* store.deleteStream(deleted)
          const fresh = Array.from({ length: 3 }, () => streamName("fresh"))
          const specs: ReadonlyArray<Spec> = [
            { stream: existing[0]!, expected: 2, events: events(3) }, // ok -> 5
            { stream: existing[1]!, expected: 1, events: events(1) }, // wrong version
            { stream: existing[2]!, expected: "stream_exists", events: events(2) }, // ok -> 4
            { stream: existing[3]!, expected: "no_stream", events: events(1) }, // exists
            { stream: fresh[0]!, expected: "no_stream", events: events(1) }, // ok -> 1
            { stream: fresh[1]!, expected: "any", events: events(2) }, // ok -> 2
            { stream: fresh[2]!, expected: "stream_exists", events: events(1) }, // absent
            { stream: streamName("absent"), expected: 3, events: events(1) }, // absent
            { stream: tombstoned, expected: "any", events: events(1) }, // tombstoned
            { stream: deleted, expected: "no_stream", events: events(1) } // ok: reopens -> 2
          ]
          const { leader, results } = yield* asOneGroup(specs)
          assert.strictEqual(leader.version, 2)
          const ok = (i: number) => {
            const result = results[i]!
            assert.isTrue(Result.isSuccess(result), `append ${i} failed: ${show(result)}`)
            return Result.getOrThrow(result)
          }
          const refused = (i: number) => {
            const result = results[i]!
            assert.isTrue(Result.isFailure(result), `append ${i} succeeded`)
            return Result.isFailure(result) ? result.failure : undefined
          }
          assert.strictEqual(ok(0).version, 5)
          assert.strictEqual(ok(0).positions.length, 3)
          assert.deepInclude(refused(1), { _tag: "WrongExpectedVersion", stream: existing[1]!, expected: 1, actual: 2 })
          assert.strictEqual(ok(2).version, 4)
          assert.deepInclude(refused(3), { _tag: "WrongExpectedVersion", expected: "no_stream", actual: 2 })
          assert.strictEqual(ok(4).version, 1)
          assert.strictEqual(ok(5).version, 2)
          assert.deepInclude(refused(6), { _tag: "WrongExpectedVersion", expected: "stream_exists", actual: 0 })
          assert.deepInclude(refused(7), { _tag: "WrongExpectedVersion", expected: 3, actual: 0 })
          assert.deepInclude(refused(8), { _tag: "StreamTombstoned", stream: tombstoned })
          assert.strictEqual(ok(9).version, 2)
          // The successful appends went as one transaction (one order key), after the leader's.
          const committed = [0, 2, 4, 5, 9].map(ok)
          assert.strictEqual(new Set(committed.map((r) => txOf(r.checkpoint))).size, 1)
          assert.isAbove(Number(txOf(committed[0]!.checkpoint)), Number(txOf(leader.checkpoint)))
          // Each result is what a reader sees: positions and checkpoint of the caller's own events.
          for (const [i, result] of committed.entries()) {
            const stored = yield* store.readStream(result.streamId)
            const mine = stored.slice(stored.length - specs[[0, 2, 4, 5, 9][i]!]!.events.length)
            assert.deepStrictEqual(mine.map((e) => e.eventId), specs[[0, 2, 4, 5, 9][i]!]!.events.map((e) => e.eventId))
            assert.deepStrictEqual(mine.map((e) => e.position), result.positions)
            assert.strictEqual(mine[mine.length - 1]!.checkpoint, result.checkpoint)
          }
          // The refused ones wrote nothing.
          assert.strictEqual((yield* store.readStream(existing[1]!)).length, 2)
          assert.strictEqual((yield* store.readStream(existing[3]!)).length, 2)
          assert.isTrue((yield* store.streamInfo(fresh[2]!))._tag === "None")
        }))

      it.effect("an identical retry in a group returns the original result", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const first = { stream: streamName("retried"), expected: "no_stream" as const, events: events(2) }
          const second = { stream: streamName("retried"), expected: "any" as const, events: events(1) }
          const original = yield* store.append(first.stream, first.expected, first.events)
          const originalAny = yield* store.append(second.stream, second.expected, second.events)
          const other = { stream: streamName("other"), expected: "no_stream" as const, events: events(1) }
          // The exact retry does not match (the stream moved on); the "any" retry matches but its ids exist.
          const { results } = yield* asOneGroup([first, other, second])
          assert.deepStrictEqual(results[0], Result.succeed(original))
          assert.deepStrictEqual(results[2], Result.succeed(originalAny))
          assert.isTrue(Result.isSuccess(results[1]!))
          assert.strictEqual((yield* store.readStream(first.stream)).length, 2)
          assert.strictEqual((yield* store.readStream(second.stream)).length, 1)
        }))

      it.effect("a duplicate event id fails only its own append", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const taken = event("Taken")
          yield* store.append(streamName("owner"), "no_stream", [taken])
          const streams = Array.from({ length: 5 }, () => streamName("dup"))
          const specs = streams.map((stream, i): Spec => ({
            stream,
            expected: "no_stream",
            events: i === 2 ? [event("New"), { ...taken }] : events(1)
          }))
          const { results } = yield* asOneGroup(specs)
          for (const [i, result] of results.entries()) {
            if (i === 2) {
              assert.isTrue(Result.isFailure(result))
              if (Result.isFailure(result)) assert.deepInclude(result.failure, { _tag: "DuplicateEventId", stream: streams[2]! })
            } else {
              assert.isTrue(Result.isSuccess(result), show(result))
            }
          }
          assert.isTrue((yield* store.streamInfo(streams[2]!))._tag === "None")
        }))

      it.effect("a stream held by another transaction does not stall the rest of the group", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const hot = streamName("held")
          yield* store.append(hot, "no_stream", events(1))
          const held = yield* holdRow(hot)
          const specs = Array.from({ length: 4 }, (): Spec => ({ stream: streamName("free"), expected: "no_stream", events: events(1) }))
          const { members } = yield* startGroup([...specs.slice(0, 2), { stream: hot, expected: 1, events: events(1) }, ...specs.slice(2)])
          const free = yield* Effect.forEach([0, 1, 3, 4], (i) => Fiber.join(members[i]!))
          assert.isTrue(free.every(Result.isSuccess))
          assert.strictEqual(new Set(free.map((r) => txOf(Result.getOrThrow(r).checkpoint))).size, 1)
          // The held stream's append waits for the row (alone, as a single append), and then commits.
          assert.isUndefined(members[2]!.pollUnsafe())
          yield* held.release
          const late = yield* Fiber.join(members[2]!)
          assert.strictEqual(Result.getOrThrow(late).version, 2)
        }))

      it.effect("an outage fails every member with StoreUnavailable and writes none of them", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const sql = yield* PgClient.PgClient
          // A caller's open transaction creates a stream: a group member creating it too waits for that
          // transaction, so the group is in flight when its session ends. (The caller's append runs in the
          // caller's transaction, not in a group: it stays invisible until that transaction ends.)
          const pending = streamName("pending")
          const appended = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const holder = yield* sql.withTransaction(Effect.gen(function*() {
            yield* store.append(pending, "no_stream", events(1))
            yield* Deferred.succeed(appended, undefined)
            yield* Deferred.await(release)
          })).pipe(Effect.forkChild)
          yield* Deferred.await(appended)
          assert.isTrue((yield* store.streamInfo(pending))._tag === "None")
          const specs = Array.from({ length: 7 }, (): Spec => ({ stream: streamName("outage"), expected: "no_stream", events: events(2) }))
          const all = [...specs.slice(0, 4), { stream: pending, expected: "no_stream" as const, events: events(1) }, ...specs.slice(4)]
          // The first goes alone; the rest queue behind it and then go together, as one group.
          const fibers = yield* Effect.forEach(all, (spec) =>
            store.append(spec.stream, spec.expected, spec.events).pipe(Effect.exit, Effect.forkChild({ startImmediately: true })))
          const waiting = yield* eventually("the group to wait on the pending stream", lockWaiters, (rows) =>
            rows.length === 1)
          yield* sql`SELECT pg_terminate_backend(${waiting[0]!.pid})`
          const exits = yield* Effect.forEach(fibers, Fiber.join)
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(holder)
          assert.isTrue(Exit.isSuccess(exits[0]!))
          for (const exit of exits.slice(1)) {
            const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
            assert.deepInclude(Option.getOrUndefined(error), { _tag: "StoreUnavailable", retryable: true })
          }
          for (const spec of specs.slice(1)) assert.isTrue((yield* store.streamInfo(spec.stream))._tag === "None")
          // The caller's transaction committed its own append, and only that.
          assert.strictEqual((yield* store.readStream(pending)).length, 1)
        }))
    })

    layer(
      PgEventStore.layer({ groupCommit: false }).pipe(Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 8 }))),
      { excludeTestServices: true, timeout: "60 seconds" }
    )("turned off", (it) => {
      it.effect("every append is its own transaction", () =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const results = yield* Effect.forEach(
            Array.from({ length: 8 }, () => streamName("alone")),
            (stream) => store.append(stream, "no_stream", events(1)),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(new Set(results.map((r) => txOf(r.checkpoint))).size, results.length)
        }))
    })
  })
})
