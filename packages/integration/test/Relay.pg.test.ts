/**
 * The relay against a real NATS JetStream (the machine's at 127.0.0.1:4222, and for faults a server of the
 * test's own): every event of the contracts' categories arrives once, in the store's order, with its
 * headers; a relay stopped mid-way and a lost acknowledgement republish, and the broker drops the repeats;
 * a broker outage stalls the relay without parking anything, and it resumes when the broker is back; a
 * batch of 1,000 goes out pipelined; an event its contract cannot map parks only its stream.
 */
import { assert, layer } from "@effect/vitest"
import { Checkpoint, EventStore, PgEventStore } from "@verity/eventstore"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, type Duration, Effect, Exit, Layer, Scope } from "effect"
import { JetStreamSink, Relay, Sink } from "../src/index.ts"
import { countMessages, deleteStream, ownServer, readStream, SHARED_NATS, unique } from "./Nats.ts"
import { assertStreamOrder, idsOf, storedOrder, waitForCount } from "./support/Checks.ts"
import { contractFor, sent } from "./support/Parcels.ts"

interface Fixture {
  readonly id: string
  readonly category: string
  readonly stream: string
  readonly prefix: string
  readonly name: string
}

const fixture = (): Fixture => {
  const id = unique()
  return { id, category: `p${id}`, stream: `RELAY_${id}`, prefix: `t${id}`, name: `relay_${id}` }
}

/** A sink wrapper that counts what it was asked to publish and can report the first `lose` acks as lost. */
const recording = (sink: Sink.Sink, lose = 0) => {
  const calls: Array<number> = []
  let lost = 0
  const wrapped: Sink.Sink = {
    publish: (messages) =>
      sink.publish(messages).pipe(
        Effect.tap(() => Effect.sync(() => calls.push(messages.length))),
        Effect.flatMap(() =>
          lost < lose
            ? Effect.sync(() => lost++).pipe(Effect.andThen(Effect.fail(new Sink.SinkError({ reason: "Unavailable", detail: "ack lost" }))))
            : Effect.void
        )
      )
  }
  return { sink: wrapped, calls, lostAcks: () => lost }
}

/** Starts a relay in `scope` and returns its service. */
const startRelay = (
  f: Fixture,
  sink: Sink.Sink,
  scope: Scope.Scope,
  runtime: { readonly batchSize?: number; readonly owner?: string } = {}
) =>
  Layer.buildWithScope(
    Relay.layer({
      name: f.name,
      contracts: [contractFor(f.category)],
      sink,
      runtime: { pollInterval: "50 millis", discoveryInterval: "200 millis", owner: runtime.owner ?? "test", ...runtime }
    }),
    scope
  ).pipe(Effect.map((context) => Context.get(context, Relay.Relay)))

const jetStreamSink = (f: Fixture, servers: string, scope: Scope.Scope, ackTimeout: Duration.Input = "2 seconds") =>
  JetStreamSink.make({ servers, stream: f.stream, prefix: f.prefix, ackTimeout }).pipe(Scope.provide(scope))

forEachDatabase((target) => {
  layer(
    PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 20 }))),
    { excludeTestServices: true, timeout: "180 seconds" }
  )("relay to JetStream", (it) => {
    it.effect("publishes every event once, in the store's order, with its headers", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void).pipe(Effect.andThen(deleteStream(SHARED_NATS, f.stream))))
        const relay = yield* startRelay(f, yield* jetStreamSink(f, SHARED_NATS, scope), scope)
        for (const s of ["a", "b", "c"]) yield* store.append(`${f.category}-${s}`, "any", sent(4))
        yield* store.append(`${f.category}-a`, "any", [{ eventId: crypto.randomUUID(), type: "Noise", data: {} }])
        yield* store.append(`other${f.id}-x`, "any", sent(2))
        const last = yield* store.append(`${f.category}-b`, "any", sent(2, 4))
        yield* relay.projections.waitFor(f.name, last.checkpoint, "30 seconds")

        const messages = yield* readStream(SHARED_NATS, f.stream)
        assert.strictEqual(messages.length, 14, "12 + 2 Sent events; Noise maps to nothing; other categories are not read")
        assert.deepStrictEqual(idsOf(messages), yield* storedOrder(f.category))
        assertStreamOrder(messages)
        const first = messages[0]!
        assert.strictEqual(first.subject, `${f.prefix}.${f.category}.ParcelSent`)
        assert.deepStrictEqual(first.payload, { type: "ParcelSent", version: 3, data: { parcel: `${f.category}-a`, n: 0 } })
        const events = yield* store.readStream(`${f.category}-a`)
        assert.deepInclude(first.headers, {
          "Nats-Msg-Id": events[0]!.eventId,
          [Relay.Headers.eventId]: events[0]!.eventId,
          [Relay.Headers.stream]: `${f.category}-a`,
          [Relay.Headers.streamVersion]: "1",
          [Relay.Headers.position]: events[0]!.position.toString(),
          [Relay.Headers.checkpoint]: events[0]!.checkpoint,
          [Relay.Headers.schemaVersion]: "1",
          [Relay.Headers.correlationId]: "corr-1",
          [Relay.Headers.causationId]: "cause-1",
          [Relay.Headers.traceparent]: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          [Relay.Headers.contractType]: "ParcelSent",
          [Relay.Headers.contractVersion]: "3"
        })
        const status = yield* relay.status
        assert.strictEqual(status.parkedStreams, 0)
        assert.isTrue(Checkpoint.hasReached(status.active?.checkpoint ?? Checkpoint.start, last.checkpoint))
      }))

    it.effect("a relay stopped mid-way and a lost ack republish; the broker keeps each event once", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        const outer = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(outer, Exit.void).pipe(Effect.andThen(deleteStream(SHARED_NATS, f.stream))))
        const sink = yield* jetStreamSink(f, SHARED_NATS, outer)
        // The first relay: its first acknowledgement is "lost" (published, reported as failed).
        const first = recording(sink, 1)
        const scopeA = yield* Scope.make()
        yield* startRelay(f, first.sink, scopeA, { batchSize: 20, owner: "a" })
        for (let round = 0; round < 15; round++) {
          for (const s of ["a", "b"]) yield* store.append(`${f.category}-${s}`, "any", sent(10, round * 10))
        }
        yield* waitForCount(SHARED_NATS, f.stream, 1)
        yield* Scope.close(scopeA, Exit.void)
        const stoppedAt = yield* countMessages(SHARED_NATS, f.stream)
        for (const s of ["a", "b"]) yield* store.append(`${f.category}-${s}`, "any", sent(10, 150))
        // The second relay takes over from the first one's checkpoint.
        const second = recording(sink)
        const relayB = yield* startRelay(f, second.sink, outer, { batchSize: 20, owner: "b" })
        const expected = yield* storedOrder(f.category)
        yield* waitForCount(SHARED_NATS, f.stream, expected.length)
        yield* relayB.projections.waitFor(f.name, (yield* store.readStream(`${f.category}-b`)).at(-1)!.checkpoint, "30 seconds")

        const messages = yield* readStream(SHARED_NATS, f.stream)
        assert.strictEqual(first.lostAcks(), 1)
        const asked = [...first.calls, ...second.calls].reduce((a, b) => a + b, 0)
        assert.isAbove(asked, expected.length, "some messages were published twice")
        assert.isBelow(stoppedAt, expected.length, "the first relay stopped before the end")
        assert.strictEqual(messages.length, expected.length)
        assert.deepStrictEqual(idsOf(messages), expected)
        assertStreamOrder(messages)
      }))

    it.effect("a broker outage stalls the relay without parking; it resumes in order when the broker is back", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        const server = yield* ownServer.pipe(Scope.provide(scope))
        const relay = yield* startRelay(f, yield* jetStreamSink(f, server.url, scope, "500 millis"), scope, { batchSize: 50 })
        yield* store.append(`${f.category}-a`, "any", sent(50))
        yield* waitForCount(server.url, f.stream, 50)
        // Kill the broker (SIGKILL) while a load is being published, then write more while it is down.
        for (let i = 0; i < 4; i++) yield* store.append(`${f.category}-${i % 2 === 0 ? "a" : "b"}`, "any", sent(100, 50 + i * 100))
        yield* server.kill
        const last = yield* store.append(`${f.category}-c`, "any", sent(50))
        const stalled = yield* eventually(
          "the relay reports the outage",
          relay.status,
          (s) => s.state === "stalled" && s.active?.lastError !== null,
          { timeout: "30 seconds", interval: "100 millis" }
        )
        assert.strictEqual(stalled.parkedStreams, 0)
        assert.match(stalled.active?.lastError ?? "", /broker Unavailable|broker OutOfOrder/)

        yield* server.start
        yield* relay.projections.waitFor(f.name, last.checkpoint, "60 seconds")
        const messages = yield* readStream(server.url, f.stream)
        const expected = yield* storedOrder(f.category)
        assert.strictEqual(expected.length, 500)
        assert.strictEqual(messages.length, 500)
        assert.deepStrictEqual(idsOf(messages), expected)
        assertStreamOrder(messages)
        const status = yield* eventually("the relay live again", relay.status, (s) => s.state === "live", { timeout: "30 seconds" })
        assert.strictEqual(status.parkedStreams, 0)
      }))

    it.effect("publishes a batch of 1,000 pipelined, in order", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        for (let i = 0; i < 10; i++) yield* store.append(`${f.category}-${i}`, "any", sent(100))
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void).pipe(Effect.andThen(deleteStream(SHARED_NATS, f.stream))))
        const recorded = recording(yield* jetStreamSink(f, SHARED_NATS, scope))
        const relay = yield* startRelay(f, recorded.sink, scope)
        const last = (yield* store.readStream(`${f.category}-9`)).at(-1)!
        yield* relay.projections.waitFor(f.name, last.checkpoint, "60 seconds")
        assert.deepStrictEqual(recorded.calls, [1000], "one publish call with all 1,000 messages in flight")
        const messages = yield* readStream(SHARED_NATS, f.stream)
        assert.deepStrictEqual(idsOf(messages), yield* storedOrder(f.category))
        assertStreamOrder(messages)
      }))

    it.effect("an event its contract cannot map parks only its stream", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void).pipe(Effect.andThen(deleteStream(SHARED_NATS, f.stream))))
        const relay = yield* startRelay(f, yield* jetStreamSink(f, SHARED_NATS, scope), scope)
        yield* store.append(`${f.category}-bad`, "any", [
          ...sent(1),
          { eventId: crypto.randomUUID(), type: "Poison", data: {} },
          ...sent(1, 1)
        ])
        const last = yield* store.append(`${f.category}-good`, "any", sent(3))
        yield* relay.projections.waitFor(f.name, last.checkpoint, "30 seconds")
        const status = yield* eventually("the stream parked", relay.status, (s) => s.parkedStreams === 1)
        assert.strictEqual(status.state, "parked")
        const parked = yield* relay.projections.parked(f.name)
        assert.deepStrictEqual(parked.map((p) => p.stream), [`${f.category}-bad`])
        const streams = (yield* readStream(SHARED_NATS, f.stream)).map((m) => m.headers[Relay.Headers.stream])
        assert.deepStrictEqual(streams.filter((s) => s === `${f.category}-good`).length, 3)
        assert.deepStrictEqual(streams.filter((s) => s === `${f.category}-bad`).length, 1, "the events behind the poison wait")
      }))
  })
})
