/**
 * The event store contract: written once, run against every store configuration (PostgreSQL on each test
 * server, and the in-memory store). Each test uses its own streams and categories, so one store per suite
 * is enough.
 */
import { assert, layer } from "@effect/vitest"
import { eventually } from "@verity/postgres/testing"
import { Effect, Fiber, type Layer, Option, Stream } from "effect"
import { Checkpoint, EventStore, type ExpectedVersion, type NewEvent, type PersonalFields } from "../../src/index.ts"
import { event, events, streamName } from "../fixtures.ts"

/**
 * An event type whose `name` the crypto-shredding decorator treats as personal data of `subject` (see
 * `personalFields`): the contract then also covers its encryption and decryption on every read path.
 */
export const PERSONAL_TYPE = "PersonRegistered"

export const personalFields: PersonalFields.PersonalFieldMap = new Map([
  [PERSONAL_TYPE, [{ field: "name", subjectField: "subject", placeholder: "[erased]" }]]
])

const category = () => `c${Math.random().toString(36).slice(2, 10)}`

export const eventStoreContract = <E>(label: string, storeLayer: Layer.Layer<EventStore, E>) =>
  layer(storeLayer, { excludeTestServices: true, timeout: "60 seconds" })(label, (it) => {
    it.effect("appends to a new stream and reads the events back in order", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        const written = events(3)
        const result = yield* store.append(stream, "no_stream", written)
        assert.strictEqual(result.version, 3)
        assert.strictEqual(result.positions.length, 3)
        assert.isTrue(result.positions[0]! < result.positions[1]! && result.positions[1]! < result.positions[2]!)
        const read = yield* store.readStream(stream)
        assert.deepStrictEqual(read.map((e) => e.version), [1, 2, 3])
        assert.deepStrictEqual(read.map((e) => e.eventId), written.map((e) => e.eventId))
        assert.deepStrictEqual(read.map((e) => e.data), [{ i: 0 }, { i: 1 }, { i: 2 }])
        assert.deepStrictEqual(read.map((e) => e.position), result.positions)
        assert.strictEqual(read[2]!.checkpoint, result.checkpoint)
        assert.isTrue(read.every((e) => e.schemaVersion === 1 && e.recordedAt instanceof Date))
      }))

    it.effect("keeps metadata, merging append-level metadata under event-level keys", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "any", [event("A", { x: 1 }, { actor: "alice", custom: [1, 2] }), event("B")], {
          metadata: { correlationId: "corr-1", actor: "system" }
        })
        const [a, b] = yield* store.readStream(stream)
        assert.deepStrictEqual(a!.metadata, { correlationId: "corr-1", actor: "alice", custom: [1, 2] })
        assert.deepStrictEqual(b!.metadata, { correlationId: "corr-1", actor: "system" })
      }))

    it.effect("checks the expected version and writes nothing on a conflict", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "no_stream", events(2))
        const stale = yield* store.append(stream, 1, events(1)).pipe(Effect.flip)
        assert.strictEqual(stale._tag, "WrongExpectedVersion")
        assert.deepInclude(stale, { stream, expected: 1, actual: 2 })
        const again = yield* store.append(stream, "no_stream", events(1)).pipe(Effect.flip)
        assert.deepInclude(again, { _tag: "WrongExpectedVersion", expected: "no_stream", actual: 2 })
        const exact = yield* store.append(stream, 2, events(2))
        assert.strictEqual(exact.version, 4)
        const exists = yield* store.append(stream, "stream_exists", events(1))
        assert.strictEqual(exists.version, 5)
        const any = yield* store.append(stream, "any", events(1))
        assert.strictEqual(any.version, 6)
        assert.strictEqual((yield* store.readStream(stream)).length, 6)
      }))

    it.effect("stream_exists and exact versions fail on a stream that does not exist", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        const exists = yield* store.append(stream, "stream_exists", events(1)).pipe(Effect.flip)
        assert.deepInclude(exists, { _tag: "WrongExpectedVersion", actual: 0 })
        const exact = yield* store.append(stream, 3, events(1)).pipe(Effect.flip)
        assert.deepInclude(exact, { _tag: "WrongExpectedVersion", expected: 3, actual: 0 })
        const zero = yield* store.append(stream, 0, events(1))
        assert.strictEqual(zero.version, 1)
        assert.isTrue(Option.isSome(yield* store.streamInfo(stream)))
      }))

    it.effect("a retried append with the same event ids returns the original result and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        const batch = events(3)
        const first = yield* store.append(stream, "no_stream", batch)
        yield* store.append(stream, 3, events(1))
        // The retry's expected version is stale now; the ids identify it as the same append.
        const retried = yield* store.append(stream, "no_stream", batch)
        assert.deepStrictEqual(retried, first)
        const retriedAny = yield* store.append(stream, "any", batch)
        assert.deepStrictEqual(retriedAny, first)
        assert.strictEqual((yield* store.readStream(stream)).length, 4)
      }))

    it.effect("event ids reused elsewhere are rejected and nothing is written", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        const other = streamName()
        const batch = events(2)
        yield* store.append(stream, "no_stream", batch)
        const elsewhere = yield* store.append(other, "any", batch).pipe(Effect.flip)
        assert.strictEqual(elsewhere._tag, "DuplicateEventId")
        const partial = yield* store.append(stream, "any", [batch[0]!, event("New")]).pipe(Effect.flip)
        assert.strictEqual(partial._tag, "DuplicateEventId")
        const twiceInOne = event("Twice")
        const inOne = yield* store.append(other, "any", [twiceInOne, twiceInOne]).pipe(Effect.flip)
        assert.strictEqual(inOne._tag, "DuplicateEventId")
        assert.strictEqual((yield* store.readStream(stream)).length, 2)
        assert.isTrue(Option.isNone(yield* store.streamInfo(other)))
      }))

    it.effect("rejects invalid input with typed errors before writing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        const invalid = (events: ReadonlyArray<NewEvent>) => store.append(stream, "any", events).pipe(Effect.flip)
        assert.deepInclude(yield* invalid([event("A", { text: "a\u0000b" })]), { _tag: "InvalidEvent", reason: "NulCharacter" })
        assert.deepInclude(yield* invalid([event("A", { ["k\u0000"]: 1 })]), { reason: "NulCharacter" })
        assert.deepInclude(yield* invalid([event("A", {}, { actor: "\u0000" })]), { reason: "NulCharacter" })
        assert.deepInclude(yield* invalid([event("A", { big: "x".repeat(1024 * 1024 + 1) })]), { reason: "TooLarge" })
        assert.deepInclude(yield* invalid([{ eventId: "not-a-uuid", type: "A", data: {} }]), { reason: "InvalidEventId" })
        assert.deepInclude(yield* invalid([event("", {})]), { reason: "InvalidType" })
        assert.deepInclude(yield* invalid([event("has space", {})]), { reason: "InvalidType" })
        assert.deepInclude(yield* invalid([{ ...event("A"), schemaVersion: 0 }]), { reason: "InvalidSchemaVersion" })
        assert.deepInclude(yield* invalid([event("A", 10n)]), { reason: "NotJson" })
        assert.deepInclude(yield* invalid([]), { reason: "Empty" })
        assert.deepInclude(yield* invalid([event("A"), event("B", { t: "\u0000" })]), { index: 1 })
        // A literal backslash followed by "u0000" is ordinary text, not a NUL.
        yield* store.append(stream, "any", [event("A", { text: "\\u0000" })])
        for (const name of ["", "nodash", "-id", "cat-", "9cat-id", "cat-has space", "cat-a\u0000", "x".repeat(300)]) {
          const error = yield* store.append(name, "any", events(1)).pipe(Effect.flip)
          assert.strictEqual(error._tag, "InvalidStreamName", name)
          assert.strictEqual((yield* store.readStream(name).pipe(Effect.flip))._tag, "InvalidStreamName")
        }
        const read = yield* store.readStream(stream)
        assert.deepStrictEqual(read.map((e) => e.data), [{ text: "\\u0000" }])
      }))

    it.effect("an expected version that is none of the accepted forms is an InvalidEvent, and nothing changes", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        for (const expected of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "latest"]) {
          // A value from outside the type (as an untyped caller could send it).
          const bad = expected as ExpectedVersion.ExpectedVersion
          const error = yield* store.append(stream, bad, events(1)).pipe(Effect.flip)
          assert.deepInclude(error, { _tag: "InvalidEvent", reason: "InvalidExpectedVersion", stream, index: 0 }, String(expected))
          const many = yield* store.appendMany([{ stream, expected: bad, events: events(1) }]).pipe(Effect.flip)
          assert.deepInclude(many, { _tag: "InvalidEvent", reason: "InvalidExpectedVersion" }, String(expected))
        }
        assert.isTrue(Option.isNone(yield* store.streamInfo(stream)))
        // Lifecycle operations take the same expected versions, and change nothing when refused.
        yield* store.append(stream, "no_stream", events(2))
        for (const expected of [-1, 1.5, Number.NaN]) {
          const deleted = yield* store.deleteStream(stream, expected).pipe(Effect.flip)
          assert.deepInclude(deleted, { _tag: "InvalidEvent", reason: "InvalidExpectedVersion" }, String(expected))
          const tombstoned = yield* store.tombstoneStream(stream, expected).pipe(Effect.flip)
          assert.deepInclude(tombstoned, { _tag: "InvalidEvent", reason: "InvalidExpectedVersion" }, String(expected))
          const unused = yield* store.tombstoneStream(streamName(), expected).pipe(Effect.flip)
          assert.deepInclude(unused, { _tag: "InvalidEvent", reason: "InvalidExpectedVersion" }, String(expected))
        }
        assert.strictEqual(Option.getOrThrow(yield* store.streamInfo(stream)).state, "active")
        assert.strictEqual((yield* store.readStream(stream)).length, 2)
      }))

    it.effect("reads a stream forwards and backwards, from a version, with a max count", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "no_stream", events(10))
        const versions = (es: ReadonlyArray<{ readonly version: number }>) => es.map((e) => e.version)
        assert.deepStrictEqual(versions(yield* store.readStream(stream, { fromVersion: 4, maxCount: 3 })), [4, 5, 6])
        assert.deepStrictEqual(versions(yield* store.readStream(stream, { direction: "backwards", maxCount: 3 })), [10, 9, 8])
        assert.deepStrictEqual(
          versions(yield* store.readStream(stream, { direction: "backwards", fromVersion: 2 })),
          [2, 1]
        )
        assert.deepStrictEqual(versions(yield* store.readStream(stream, { fromVersion: 11 })), [])
        assert.deepStrictEqual(versions(yield* store.readStream(stream, { maxCount: 0 })), [])
      }))

    it.effect("unknown streams are a typed StreamNotFound", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        const error = yield* store.readStream(stream).pipe(Effect.flip)
        assert.deepInclude(error, { _tag: "StreamNotFound", stream })
        assert.isTrue(Option.isNone(yield* store.streamInfo(stream)))
        const withSnapshot = yield* store.readStreamWithSnapshot(stream, "k").pipe(Effect.flip)
        assert.strictEqual(withSnapshot._tag, "StreamNotFound")
      }))

    it.effect("time travel: a stream up to a version or an instant", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "no_stream", events(3))
        const middle = (yield* store.readStream(stream))[2]!.recordedAt
        yield* Effect.sleep("20 millis") // recorded_at has to move on for the instant to separate the appends
        yield* store.append(stream, 3, events(2))
        assert.deepStrictEqual((yield* store.readStream(stream, { toVersion: 2 })).map((e) => e.version), [1, 2])
        assert.deepStrictEqual((yield* store.readStream(stream, { asOf: middle })).map((e) => e.version), [1, 2, 3])
        assert.deepStrictEqual((yield* store.readStream(stream, { asOf: new Date(0) })).length, 0)
      }))

    it.effect("reads all events in global order, by category and by type, resuming from checkpoints", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const start = (yield* store.horizon).checkpoint
        const cat = category()
        const otherCat = category()
        const a = `${cat}-a`
        const b = `${cat}-b`
        const other = `${otherCat}-x`
        // Other suites share the server, and their open transactions can hold the (cluster-wide) horizon
        // back: this test only counts its own categories, and waits for its events to become readable.
        const mine = [cat, otherCat]
        yield* store.append(a, "no_stream", [event("Opened"), event("Moved")])
        yield* store.append(other, "no_stream", [event("Opened")])
        yield* store.append(b, "no_stream", [event("Opened")])
        const last = yield* store.append(a, 2, [event("Closed")])
        yield* eventually(
          "the horizon to pass the last append",
          Effect.map(store.horizon, (h) => Checkpoint.hasReached(h.checkpoint, last.checkpoint)),
          { timeout: "10 seconds" }
        )
        const everything = yield* Stream.runCollect(store.streamAll({ from: start, limit: 2, categories: mine }))
        assert.deepStrictEqual(everything.map((e) => `${e.streamId}:${e.version}`), [
          `${a}:1`,
          `${a}:2`,
          `${other}:1`,
          `${b}:1`,
          `${a}:3`
        ])
        for (let i = 1; i < everything.length; i++) {
          assert.isTrue(Checkpoint.Order(everything[i - 1]!.checkpoint, everything[i]!.checkpoint) < 0)
        }
        const byCategory = yield* Stream.runCollect(store.streamAll({ from: start, categories: [cat] }))
        assert.deepStrictEqual(byCategory.map((e) => e.streamId), [a, a, b, a])
        const byType = yield* Stream.runCollect(store.streamAll({ from: start, categories: mine, types: ["Opened"] }))
        assert.deepStrictEqual(byType.map((e) => e.streamId), [a, other, b])
        const first = yield* store.readAll({ from: start, limit: 3, categories: mine })
        assert.isFalse(first.caughtUp)
        assert.strictEqual(first.events.length, 3)
        const rest = yield* store.readAll({ from: first.checkpoint, limit: 3, categories: mine })
        assert.isTrue(rest.caughtUp)
        assert.deepStrictEqual(rest.events.map((e) => e.eventId), everything.slice(3).map((e) => e.eventId))
        // A filtered page that found nothing still moves its checkpoint to the horizon.
        const none = yield* store.readAll({ from: start, types: ["NoSuchType"] })
        assert.deepStrictEqual(none.events, [])
        assert.isTrue(Checkpoint.hasReached(none.checkpoint, last.checkpoint))
        // Unfiltered, the global order holds the same events in the same relative order.
        const unfiltered = yield* Stream.runCollect(store.streamAll({ from: start }))
        const ids = new Set(everything.map((e) => e.eventId))
        assert.deepStrictEqual(unfiltered.filter((e) => ids.has(e.eventId)).map((e) => e.eventId), everything.map((e) => e.eventId))
        assert.isTrue((yield* store.horizon).position >= last.positions[0]!)
      }))

    it.effect("page sizes: the default when not a finite number, otherwise rounded down and at least 1", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const start = (yield* store.horizon).checkpoint
        const cat = category()
        const last = yield* store.append(`${cat}-1`, "no_stream", events(3))
        yield* eventually(
          "the horizon to pass the last append",
          Effect.map(store.horizon, (h) => Checkpoint.hasReached(h.checkpoint, last.checkpoint)),
          { timeout: "10 seconds" }
        )
        const sizeOf = (limit: number | undefined) =>
          Effect.map(store.readAll({ from: start, categories: [cat], ...(limit === undefined ? {} : { limit }) }), (page) => ({
            events: page.events.length,
            caughtUp: page.caughtUp
          }))
        for (const limit of [undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1_000_000]) {
          assert.deepStrictEqual(yield* sizeOf(limit), { events: 3, caughtUp: true }, String(limit))
        }
        for (const limit of [0, -5, 1.9, 1e-9]) {
          assert.deepStrictEqual(yield* sizeOf(limit), { events: 1, caughtUp: false }, String(limit))
        }
        assert.deepStrictEqual(yield* sizeOf(2.7), { events: 2, caughtUp: false })
        const streamed = yield* Stream.runCollect(store.streamAll({ from: start, categories: [cat], limit: Number.NaN }))
        assert.strictEqual(streamed.length, 3)
      }))

    it.effect("payloads and snapshot state come back unchanged through every read path", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const start = (yield* store.horizon).checkpoint
        const cat = category()
        const stream = `${cat}-p`
        const data = { subject: `s-${cat}`, name: "Ada Lovelace", nested: { list: [1, "two", null], flag: true } }
        const written = [event(PERSONAL_TYPE, data), event("Other", { n: 1 })]
        const last = yield* store.append(stream, "no_stream", written)
        yield* store.appendMany([{ stream, expected: 2, events: [event(PERSONAL_TYPE, { ...data, name: "A. L." })] }])
        yield* store.saveSnapshot({ streamId: stream, key: "k", version: 2, state: { name: data.name } })
        const expected = [data, { n: 1 }, { ...data, name: "A. L." }]
        assert.deepStrictEqual((yield* store.readStream(stream)).map((e) => e.data), expected)
        const withSnapshot = yield* store.readStreamWithSnapshot(stream, "k")
        assert.deepStrictEqual(Option.getOrThrow(withSnapshot.snapshot).state, { name: data.name })
        assert.deepStrictEqual(withSnapshot.events.map((e) => e.data), expected.slice(2))
        yield* eventually(
          "the horizon to pass the last append",
          Effect.map(store.horizon, (h) => Checkpoint.hasReached(h.checkpoint, last.checkpoint)),
          { timeout: "10 seconds" }
        )
        const page = yield* store.readAll({ from: start, categories: [cat] })
        assert.deepStrictEqual(page.events.map((e) => e.data), expected)
        const streamed = yield* Stream.runCollect(store.streamAll({ from: start, categories: [cat], limit: 1 }))
        assert.deepStrictEqual(streamed.map((e) => e.data), expected)
        const followed = yield* store.subscribe({ from: start, categories: [cat] }).pipe(
          Stream.flatMap((batch) => Stream.fromIterable(batch.events)),
          Stream.take(3),
          Stream.runCollect,
          Effect.timeout("10 seconds")
        )
        assert.deepStrictEqual(followed.map((e) => e.data), expected)
      }))

    it.effect("subscribe catches up, then follows new events live", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const start = (yield* store.horizon).checkpoint
        const cat = category()
        yield* store.append(`${cat}-1`, "no_stream", events(3))
        const received = yield* store.subscribe({ from: start, categories: [cat], limit: 2, pollInterval: 10_000 }).pipe(
          Stream.flatMap((batch) => Stream.fromIterable(batch.events)),
          Stream.take(6),
          Stream.runCollect,
          Effect.forkChild
        )
        yield* store.append(`${cat}-2`, "no_stream", events(2))
        yield* store.append(`${cat}-1`, 3, events(1))
        const all = yield* Fiber.join(received).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual(all.map((e) => `${e.streamId.slice(cat.length + 1)}:${e.version}`), [
          "1:1",
          "1:2",
          "1:3",
          "2:1",
          "2:2",
          "1:4"
        ])
      }))

    it.effect("multi-stream appends are atomic", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const a = streamName()
        const b = streamName()
        const results = yield* store.appendMany([
          { stream: a, expected: "no_stream", events: events(2) },
          { stream: b, expected: "no_stream", events: events(1) }
        ])
        assert.deepStrictEqual(results.map((r) => r.version), [2, 1])
        const failed = yield* store.appendMany([
          { stream: a, expected: 2, events: events(1) },
          { stream: b, expected: 5, events: events(1) }
        ]).pipe(Effect.flip)
        assert.deepInclude(failed, { _tag: "WrongExpectedVersion", stream: b, actual: 1 })
        assert.strictEqual((yield* store.readStream(a)).length, 2)
        const sameStreamTwice = yield* store.appendMany([
          { stream: a, expected: 2, events: events(1) },
          { stream: a, expected: 3, events: events(1) }
        ])
        assert.deepStrictEqual(sameStreamTwice.map((r) => r.version), [3, 4])
      }))

    it.effect("snapshots: the latest one and the tail after it; a cache that never changes an answer", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "no_stream", events(5))
        const none = yield* store.readStreamWithSnapshot(stream, "v1")
        assert.isTrue(Option.isNone(none.snapshot))
        assert.strictEqual(none.events.length, 5)
        assert.strictEqual(none.version, 5)
        yield* store.saveSnapshot({ streamId: stream, key: "v1", version: 3, state: { sum: 3 } })
        yield* store.append(stream, 5, events(2))
        const some = yield* store.readStreamWithSnapshot(stream, "v1")
        assert.deepStrictEqual(Option.getOrThrow(some.snapshot).state, { sum: 3 })
        assert.deepStrictEqual(some.events.map((e) => e.version), [4, 5, 6, 7])
        assert.strictEqual(some.version, 7)
        // Another key (a changed decider) does not see it.
        assert.isTrue(Option.isNone((yield* store.readStreamWithSnapshot(stream, "v2")).snapshot))
        // An older snapshot never replaces a newer one; a snapshot beyond the stream is refused.
        yield* store.saveSnapshot({ streamId: stream, key: "v1", version: 2, state: { sum: 2 } })
        yield* store.saveSnapshot({ streamId: stream, key: "v1", version: 99, state: { sum: 99 } })
        assert.strictEqual(Option.getOrThrow((yield* store.readStreamWithSnapshot(stream, "v1")).snapshot).version, 3)
        yield* store.saveSnapshot({ streamId: stream, key: "v1", version: 7, state: { sum: 7 } })
        const latest = yield* store.readStreamWithSnapshot(stream, "v1")
        assert.strictEqual(Option.getOrThrow(latest.snapshot).version, 7)
        assert.deepStrictEqual(latest.events, [])
        yield* store.deleteSnapshots(stream)
        assert.isTrue(Option.isNone((yield* store.readStreamWithSnapshot(stream, "v1")).snapshot))
      }))

    it.effect("soft delete hides a stream; appending reopens it with versions continuing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "no_stream", events(3))
        yield* store.saveSnapshot({ streamId: stream, key: "k", version: 3, state: {} })
        const stale = yield* store.deleteStream(stream, 2).pipe(Effect.flip)
        assert.deepInclude(stale, { _tag: "WrongExpectedVersion", actual: 3 })
        yield* store.deleteStream(stream, 3)
        assert.strictEqual((yield* store.readStream(stream).pipe(Effect.flip))._tag, "StreamNotFound")
        assert.strictEqual(Option.getOrThrow(yield* store.streamInfo(stream)).state, "deleted")
        assert.strictEqual((yield* store.deleteStream(stream).pipe(Effect.flip))._tag, "StreamNotFound")
        const reopened = yield* store.append(stream, "no_stream", events(2))
        assert.strictEqual(reopened.version, 5)
        assert.deepStrictEqual((yield* store.readStream(stream)).map((e) => e.version), [4, 5])
        const withSnapshot = yield* store.readStreamWithSnapshot(stream, "k")
        assert.isTrue(Option.isNone(withSnapshot.snapshot))
        assert.deepStrictEqual(withSnapshot.events.map((e) => e.version), [4, 5])
      }))

    it.effect("a tombstoned stream can never be read or written again", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "no_stream", events(2))
        yield* store.tombstoneStream(stream, 2)
        assert.strictEqual((yield* store.readStream(stream).pipe(Effect.flip))._tag, "StreamTombstoned")
        for (const expected of ["any", "no_stream", "stream_exists", 2] as const) {
          const error = yield* store.append(stream, expected, events(1)).pipe(Effect.flip)
          assert.strictEqual(error._tag, "StreamTombstoned", String(expected))
        }
        assert.strictEqual((yield* store.deleteStream(stream).pipe(Effect.flip))._tag, "StreamTombstoned")
        assert.strictEqual((yield* store.tombstoneStream(stream).pipe(Effect.flip))._tag, "StreamTombstoned")
        assert.strictEqual(Option.getOrThrow(yield* store.streamInfo(stream)).state, "tombstoned")
        const unused = streamName()
        yield* store.tombstoneStream(unused)
        assert.strictEqual((yield* store.append(unused, "any", events(1)).pipe(Effect.flip))._tag, "StreamTombstoned")
      }))

    it.effect("truncate-before hides earlier events from stream reads and invalidates older snapshots", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = streamName()
        yield* store.append(stream, "no_stream", events(6))
        yield* store.saveSnapshot({ streamId: stream, key: "k", version: 5, state: { n: 5 } })
        yield* store.truncateStream(stream, 4)
        assert.deepStrictEqual((yield* store.readStream(stream)).map((e) => e.version), [4, 5, 6])
        assert.deepStrictEqual((yield* store.readStream(stream, { direction: "backwards" })).map((e) => e.version), [6, 5, 4])
        const withSnapshot = yield* store.readStreamWithSnapshot(stream, "k")
        assert.isTrue(Option.isNone(withSnapshot.snapshot))
        assert.deepStrictEqual(withSnapshot.events.map((e) => e.version), [4, 5, 6])
        yield* store.truncateStream(stream, 2) // never lowers an earlier truncation
        assert.strictEqual(Option.getOrThrow(yield* store.streamInfo(stream)).truncateBefore, 4)
        yield* store.truncateStream(stream, 100) // cannot hide events that do not exist yet
        assert.strictEqual(Option.getOrThrow(yield* store.streamInfo(stream)).truncateBefore, 7)
        // Truncation changes the stream: it moves `updatedAt`, as the other lifecycle operations do.
        const beforeTruncation = Option.getOrThrow(yield* store.streamInfo(stream)).updatedAt
        yield* Effect.sleep("20 millis") // the clock has to move on for the two instants to differ
        yield* store.truncateStream(stream, 7)
        const afterTruncation = Option.getOrThrow(yield* store.streamInfo(stream)).updatedAt
        assert.isTrue(afterTruncation.getTime() > beforeTruncation.getTime(), afterTruncation.toISOString())
        yield* store.append(stream, 6, events(1))
        assert.deepStrictEqual((yield* store.readStream(stream)).map((e) => e.version), [7])
        assert.strictEqual((yield* store.truncateStream(streamName(), 2).pipe(Effect.flip))._tag, "StreamNotFound")
      }))
  })
