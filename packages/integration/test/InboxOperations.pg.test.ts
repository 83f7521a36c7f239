/**
 * An inbox operated from outside the process state that runs it, against the machine's NATS JetStream and
 * PostgreSQL: `InboxStatusReader` reports what the running inbox's own status reports (handled, last
 * sequence and position, pending, parked streams) from the database and the broker alone, and
 * `InboxControl` releases a parked stream (retry after a fix, skip) with only the inbox's name and handler,
 * after which the running inbox keeps that stream flowing.
 */
import { assert, layer } from "@effect/vitest"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Exit, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Inbox, InboxControl, InboxStatusReader, JetStreamSink, Relay, type Sink } from "../src/index.ts"
import { deleteStream, SHARED_NATS, unique } from "./Nats.ts"

const encoder = new TextEncoder()

const message = (stream: string, n: number, position: number, poison = false): Sink.OutboundMessage => {
  const id = crypto.randomUUID()
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

forEachDatabase((target) => {
  layer(TestDatabase.layer(target, { maxConnections: 10 }), { excludeTestServices: true, timeout: "120 seconds" })("inbox operations", (it) => {
    it.effect("the reader sees the inbox's progress and parked stream; control retries and skips it", () =>
      Effect.gen(function*() {
        const id = unique()
        const stream = `OPS_${id}`
        const prefix = `o${id}`
        const name = `ops_${id}`
        const sql = yield* SqlClient
        yield* sql`CREATE TABLE ops_effects (stream text NOT NULL, n integer NOT NULL)`
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void).pipe(Effect.andThen(deleteStream(SHARED_NATS, stream))))
        const sink = yield* JetStreamSink.make({ servers: SHARED_NATS, stream, prefix }).pipe(Scope.provide(scope))
        const broker = { name, servers: SHARED_NATS, stream, filterSubject: `${prefix}.parcel.>` }

        // The stream appears with the first publish.
        assert.isFalse(yield* InboxStatusReader.streamExists(broker))
        // Before the inbox ever ran (the stream exists, no consumer, no tables): not started, nothing parked.
        yield* sink.publish([message("parcel-a", 1, 1)])
        assert.isTrue(yield* InboxStatusReader.streamExists(broker))
        const before = yield* InboxStatusReader.read(broker)
        assert.strictEqual(before.state, "not_started")
        assert.strictEqual(before.handled, 0)
        assert.deepStrictEqual(before.parked, [])

        let fixed = false
        const handler = (m: Inbox.InboxMessage.InboxMessage) =>
          Effect.gen(function*() {
            const { data } = JSON.parse(m.payload) as { readonly data: { readonly n: number; readonly poison: boolean } }
            if (data.poison && !fixed) return yield* Effect.fail(new Error(`poison ${m.stream}#${data.n}`))
            const s = yield* SqlClient
            yield* s`INSERT INTO ops_effects (stream, n) VALUES (${m.stream}, ${data.n})`
          })
        const inbox = yield* Inbox.make({ ...broker, ackWait: "2 seconds", retryDelay: "10 millis", handler }).pipe(Scope.provide(scope))
        yield* sink.publish([
          message("parcel-a", 2, 2),
          message("parcel-b", 1, 3, true),
          message("parcel-b", 2, 4),
          message("parcel-c", 1, 5, true),
          message("parcel-a", 3, 6)
        ])

        const parked = yield* eventually(
          "two streams parked, everything else handled",
          InboxStatusReader.read(broker),
          (r) => r.parkedStreams === 2 && r.handled === 3 && r.pending === 0 && r.ackPending === 0
        )
        assert.strictEqual(parked.state, "parked")
        assert.strictEqual(parked.lastPosition, "6")
        assert.strictEqual(parked.lastStream, "parcel-a")
        assert.strictEqual(parked.lagSeconds, 0)
        assert.deepStrictEqual(parked.parked.map((p) => [p.stream, p.waitingMessages]), [["parcel-b", 2], ["parcel-c", 1]])
        assert.include(parked.parked[0]!.error, "poison parcel-b#1")
        // The running inbox's own status agrees with the reader's.
        const own = yield* inbox.status
        assert.strictEqual(own.handled, parked.handled)
        assert.strictEqual(own.lastSeq, parked.lastSeq)
        assert.strictEqual(own.parkedStreams, parked.parkedStreams)

        // A stream that is not parked, and a retry that still fails: said so, nothing released.
        const notParked = yield* Effect.flip(InboxControl.retry({ name, handler }, "parcel-a"))
        assert.strictEqual(notParked._tag, "StreamNotParked")
        const still = yield* InboxControl.retry({ name, handler }, "parcel-b")
        assert.isFalse(still.resumed)
        assert.include(still.error ?? "", "poison")

        fixed = true
        const retried = yield* InboxControl.retry({ name, handler }, "parcel-b")
        assert.deepStrictEqual(retried, { resumed: true, applied: 2, skipped: 0, error: undefined })
        const skipped = yield* InboxControl.skip({ name, handler }, "parcel-c", "ops")
        assert.deepStrictEqual(skipped, { resumed: true, applied: 0, skipped: 1, error: undefined })

        // The running inbox keeps the released streams flowing.
        yield* sink.publish([message("parcel-b", 3, 7), message("parcel-c", 2, 8)])
        const after = yield* eventually(
          "the released streams flow again",
          InboxStatusReader.read(broker),
          (r) => r.handled === 7 && r.pending === 0 && r.ackPending === 0
        )
        assert.strictEqual(after.state, "live")
        assert.strictEqual(after.parkedStreams, 0)
        const rows = yield* sql<{ readonly stream: string; readonly n: number }>`SELECT stream, n FROM ops_effects ORDER BY stream, n`
        assert.deepStrictEqual(rows.map((r) => `${r.stream}#${r.n}`), [
          "parcel-a#1",
          "parcel-a#2",
          "parcel-a#3",
          "parcel-b#1",
          "parcel-b#2",
          "parcel-b#3",
          "parcel-c#2"
        ])
      }).pipe(Effect.scoped))

    it.effect("the broker away: the reader still answers from the database, saying why", () =>
      Effect.gen(function*() {
        const report = yield* InboxStatusReader.read({ name: `away_${unique()}`, servers: "nats://127.0.0.1:1", stream: "NOWHERE" })
        assert.strictEqual(report.state, "broker_unavailable")
        assert.isString(report.brokerError)
        assert.isUndefined(report.pending)
      }))
  })
})
