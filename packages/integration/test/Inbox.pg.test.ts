/**
 * The inbox against the machine's NATS JetStream and PostgreSQL (a stream, subject prefix and consumer of
 * each test's own): every message's effect is applied exactly once although messages are delivered again
 * (a skipped ack, a consumer stopped between commit and ack), in order per source stream; a poison message
 * parks only its stream, and retry after a fix and skip both release it; a restarted consumer resumes from
 * its durable consumer without loss.
 */
import { assert, layer } from "@effect/vitest"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Deferred, Effect, Exit, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Inbox, JetStreamSink, Relay, type Sink } from "../src/index.ts"
import { deleteStream, SHARED_NATS, unique } from "./Nats.ts"

interface Fixture {
  readonly stream: string
  readonly prefix: string
  readonly name: string
}

const fixture = (): Fixture => {
  const id = unique()
  return { stream: `INBOX_${id}`, prefix: `i${id}`, name: `inbox_${id}` }
}

const encoder = new TextEncoder()
let position = 0

/** A message as the relay would publish it: event id as message id, stream and position headers. */
const message = (stream: string, n: number, poison = false): Sink.OutboundMessage => {
  const id = crypto.randomUUID()
  position++
  return {
    subject: "parcel.ParcelSent",
    id,
    headers: {
      [Relay.Headers.eventId]: id,
      [Relay.Headers.stream]: stream,
      [Relay.Headers.streamVersion]: String(n),
      [Relay.Headers.position]: String(position),
      [Relay.Headers.contractType]: "ParcelSent",
      [Relay.Headers.contractVersion]: "1"
    },
    payload: encoder.encode(JSON.stringify({ type: "ParcelSent", version: 1, data: { n, poison } }))
  }
}

/** The test handler: records (consumer, stream, n) with no uniqueness, so a repeated effect shows. */
const handler = (name: string, broken: Set<string>) => (m: Inbox.InboxMessage.InboxMessage) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const { data } = JSON.parse(m.payload) as { readonly data: { readonly n: number; readonly poison: boolean } }
    if (data.poison && broken.has(m.stream)) return yield* Effect.fail(new Error(`poison ${m.stream}#${data.n}`))
    yield* sql`INSERT INTO inbox_effects (consumer, stream, n, message_id) VALUES (${name}, ${m.stream}, ${data.n}, ${m.id})`
  })

const effects = (name: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    return yield* sql<{ readonly stream: string; readonly n: number; readonly message_id: string }>`
      SELECT stream, n, message_id FROM inbox_effects WHERE consumer = ${name} ORDER BY id`
  })

const byStream = (rows: ReadonlyArray<{ readonly stream: string; readonly n: number }>, stream: string) =>
  rows.filter((r) => r.stream === stream).map((r) => r.n)

const setup = (f: Fixture) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS inbox_effects (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, consumer text NOT NULL, stream text NOT NULL, n integer NOT NULL, message_id text NOT NULL)`
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void).pipe(Effect.andThen(deleteStream(SHARED_NATS, f.stream))))
    const sink = yield* JetStreamSink.make({ servers: SHARED_NATS, stream: f.stream, prefix: f.prefix }).pipe(Scope.provide(scope))
    return { scope, sink }
  })

const start = (f: Fixture, scope: Scope.Scope, broken: Set<string>, extra: Partial<Inbox.InboxOptions<Error, never>> = {}) =>
  Inbox.make({
    name: f.name,
    servers: SHARED_NATS,
    stream: f.stream,
    filterSubject: `${f.prefix}.parcel.>`,
    ackWait: "1 second",
    retryDelay: "10 millis",
    handler: handler(f.name, broken),
    ...extra
  }).pipe(Scope.provide(scope))

const settled = (inbox: Inbox.InboxService, handled: number) =>
  eventually(
    `inbox handled ${handled} with nothing pending`,
    inbox.status,
    (s) => s.handled === handled && s.pending === 0 && s.ackPending === 0
  )

forEachDatabase((target) => {
  layer(TestDatabase.layer(target, { maxConnections: 10 }), { excludeTestServices: true, timeout: "120 seconds" })("inbox", (it) => {
    it.effect("applies every message once, in stream order, though an unacknowledged one is delivered again", () =>
      Effect.gen(function*() {
        const f = fixture()
        const { scope, sink } = yield* setup(f)
        const batch = ["a", "b", "c"].flatMap((s) => [1, 2, 3, 4, 5].map((n) => message(`parcel-${s}`, n)))
        const unacked = batch[6]!.id
        const hookCalls = new Map<string, number>()
        const inbox = yield* start(f, scope, new Set(), {
          // The first time the 7th message is committed, skip its ack: the broker delivers it again.
          beforeAck: (m) =>
            Effect.suspend(() => {
              const calls = (hookCalls.get(m.id) ?? 0) + 1
              hookCalls.set(m.id, calls)
              return m.id === unacked && calls === 1 ? Effect.die("no ack this time") : Effect.void
            })
        })
        yield* sink.publish(batch)
        yield* eventually("the unacknowledged message delivered again", Effect.sync(() => (hookCalls.get(unacked) ?? 0) >= 2))
        const status = yield* settled(inbox, 15)

        const rows = yield* effects(f.name)
        assert.strictEqual(rows.length, 15, "each message applied once")
        assert.strictEqual(new Set(rows.map((r) => r.message_id)).size, 15)
        for (const s of ["a", "b", "c"]) assert.deepStrictEqual(byStream(rows, `parcel-${s}`), [1, 2, 3, 4, 5])
        assert.strictEqual(status.parkedStreams, 0)
        assert.strictEqual(status.lastSeq, 15)
        assert.strictEqual(status.lastStream, "parcel-c")
        assert.isDefined(status.lastHandledAt)
      }))

    it.effect("a poison message parks its stream while others flow; retry after a fix and skip release it", () =>
      Effect.gen(function*() {
        const f = fixture()
        const { scope, sink } = yield* setup(f)
        const broken = new Set(["parcel-a", "parcel-c"])
        const inbox = yield* start(f, scope, broken)
        yield* sink.publish([
          message("parcel-a", 1),
          message("parcel-a", 2, true),
          message("parcel-b", 1),
          message("parcel-a", 3),
          message("parcel-b", 2),
          message("parcel-c", 1, true),
          message("parcel-c", 2)
        ])
        yield* eventually("streams a and c parked, b through", inbox.status, (s) =>
          s.parkedStreams === 2 && s.handled === 3 && s.pending === 0 && s.ackPending === 0)
        const parked = [...yield* inbox.parked].sort((x, y) =>
          x.stream.localeCompare(y.stream)
        )
        assert.deepStrictEqual(parked.map((p) => [p.stream, p.waitingMessages, p.attempts]), [["parcel-a", 2, 3], ["parcel-c", 2, 3]])
        assert.include(parked[0]!.error, "poison parcel-a#2")
        let rows = yield* effects(f.name)
        assert.deepStrictEqual(byStream(rows, "parcel-a"), [1])
        assert.deepStrictEqual(byStream(rows, "parcel-b"), [1, 2])

        // A later message of a parked stream is held behind it too.
        yield* sink.publish([message("parcel-a", 4), message("parcel-b", 3)])
        yield* eventually("a's 4th held, b's 3rd applied", inbox.parked, (p) => p.find((s) => s.stream === "parcel-a")?.waitingMessages === 3)
        yield* settled(inbox, 4)

        const stillBroken = yield* inbox.retry("parcel-a")
        assert.deepStrictEqual([stillBroken.resumed, stillBroken.applied], [false, 0])
        assert.strictEqual((yield* inbox.parked).find((s) => s.stream === "parcel-a")?.attempts, 4)

        broken.delete("parcel-a")
        const fixed = yield* inbox.retry("parcel-a")
        assert.deepStrictEqual(fixed, { resumed: true, applied: 3, skipped: 0, error: undefined })
        const skipped = yield* inbox.skip("parcel-c", "ops")
        assert.deepStrictEqual(skipped, { resumed: true, applied: 1, skipped: 1, error: undefined })
        const notParked = yield* Effect.flip(inbox.retry("parcel-b"))
        assert.strictEqual(notParked._tag, "StreamNotParked")

        yield* sink.publish([message("parcel-a", 5), message("parcel-c", 3)])
        yield* settled(inbox, 10)
        rows = yield* effects(f.name)
        assert.deepStrictEqual(byStream(rows, "parcel-a"), [1, 2, 3, 4, 5])
        assert.deepStrictEqual(byStream(rows, "parcel-b"), [1, 2, 3])
        assert.deepStrictEqual(byStream(rows, "parcel-c"), [2, 3])
        assert.strictEqual((yield* inbox.status).parkedStreams, 0)
        const sql = yield* SqlClient
        const dead = yield* sql<{ readonly stream_id: string; readonly skipped_by: string; readonly error: string }>`
          SELECT stream_id, skipped_by, error FROM verity_inbox.dead_letters WHERE consumer = ${f.name}`
        assert.deepStrictEqual(dead.map((d) => [d.stream_id, d.skipped_by]), [["parcel-c", "ops"]])
        assert.include(dead[0]!.error, "poison parcel-c#1")
      }))

    it.effect("a consumer stopped between commit and ack, then restarted, resumes without loss or repeat", () =>
      Effect.gen(function*() {
        const f = fixture()
        const { sink } = yield* setup(f)
        const first = Array.from({ length: 10 }, (_, i) => message(i % 2 === 0 ? "parcel-x" : "parcel-y", Math.floor(i / 2) + 1))
        const stopAt = first[4]!.id
        const reached = yield* Deferred.make<void>()
        const scopeA = yield* Scope.make()
        yield* start(f, scopeA, new Set(), {
          // One message per transaction, so that exactly five are committed when the process stops.
          batchSize: 1,
          // The process "dies" after committing the 5th message and before acknowledging it.
          beforeAck: (m) => m.id === stopAt ? Deferred.succeed(reached, undefined).pipe(Effect.andThen(Effect.never)) : Effect.void
        })
        yield* sink.publish(first)
        yield* Deferred.await(reached)
        yield* Scope.close(scopeA, Exit.void)
        assert.strictEqual((yield* effects(f.name)).length, 5, "five committed before the stop")

        const second = Array.from({ length: 10 }, (_, i) => message(i % 2 === 0 ? "parcel-x" : "parcel-y", Math.floor(i / 2) + 6))
        yield* sink.publish(second)
        const scopeB = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scopeB, Exit.void))
        const inbox = yield* start(f, scopeB, new Set())
        yield* settled(inbox, 20)
        const rows = yield* effects(f.name)
        assert.strictEqual(rows.length, 20)
        const expected = Array.from({ length: 10 }, (_, i) => i + 1)
        assert.deepStrictEqual(byStream(rows, "parcel-x"), expected)
        assert.deepStrictEqual(byStream(rows, "parcel-y"), expected)
      }))
  })
})
