/**
 * The relay against the machine's RabbitMQ, read back through a queue bound to the test's own exchange:
 * every event arrives in the store's order with its headers and message id; a relay stopped mid-way (and
 * a lost confirm) republishes, so nothing is lost and the repeats carry the same message id; a connection
 * closed by the broker (and refused for a while) stalls the relay without parking, and it resumes.
 */
import { assert, layer } from "@effect/vitest"
import { EventStore, PgEventStore } from "@verity/eventstore"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { AmqpSink, Relay, Sink } from "../src/index.ts"
import { bindQueue, deduplicated, drain, ownVhost, type ReceivedMessage, SHARED_AMQP, waitForCount } from "./Amqp.ts"
import { unique } from "./Nats.ts"
import { storedOrder } from "./support/Checks.ts"
import { contractFor, sent } from "./support/Parcels.ts"

interface Fixture {
  readonly id: string
  readonly category: string
  readonly exchange: string
  readonly queue: string
  readonly prefix: string
  readonly name: string
}

const fixture = (): Fixture => {
  const id = unique()
  return { id, category: `p${id}`, exchange: `relay.${id}`, queue: `read.${id}`, prefix: `t${id}`, name: `relay_${id}` }
}

/** Per stream, versions strictly increasing in queue order. */
const assertStreamOrder = (messages: ReadonlyArray<ReceivedMessage>) => {
  const last = new Map<string, number>()
  messages.forEach((m, index) => {
    const stream = m.headers[Relay.Headers.stream]!
    const version = Number(m.headers[Relay.Headers.streamVersion])
    assert.isAbove(version, last.get(stream) ?? 0, `${stream} out of order at ${index}`)
    last.set(stream, version)
  })
}

/** A sink that reports its first `lose` successful publishes as failed (a confirm lost on the way back). */
const losing = (sink: Sink.Sink, lose: number) => {
  let lost = 0
  const wrapped: Sink.Sink = {
    publish: (messages) =>
      sink.publish(messages).pipe(Effect.flatMap(() =>
        lost < lose
          ? Effect.sync(() => lost++).pipe(Effect.andThen(Effect.fail(new Sink.SinkError({ reason: "Unavailable", detail: "confirm lost" }))))
          : Effect.void
      ))
  }
  return { sink: wrapped, lost: () => lost }
}

const startRelay = (f: Fixture, sink: Sink.Sink, scope: Scope.Scope, runtime: { readonly batchSize?: number; readonly owner?: string } = {}) =>
  Layer.buildWithScope(
    Relay.layer({
      name: f.name,
      contracts: [contractFor(f.category)],
      sink,
      runtime: { pollInterval: "50 millis", discoveryInterval: "200 millis", owner: runtime.owner ?? "test", ...runtime }
    }),
    scope
  ).pipe(Effect.map((context) => Context.get(context, Relay.Relay)))

const amqpSink = (f: Fixture, url: string, scope: Scope.Scope) =>
  AmqpSink.make({ url, exchange: f.exchange, prefix: f.prefix, name: f.name }).pipe(Scope.provide(scope))

forEachDatabase((target) => {
  layer(
    PgEventStore.layer().pipe(Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 20 }))),
    { excludeTestServices: true, timeout: "180 seconds" }
  )("relay to RabbitMQ", (it) => {
    it.effect("delivers every event in the store's order, persistent, with its headers and message id", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        yield* bindQueue(SHARED_AMQP, f.exchange, f.queue, f.prefix).pipe(Scope.provide(scope))
        const relay = yield* startRelay(f, yield* amqpSink(f, SHARED_AMQP, scope), scope)
        for (const s of ["a", "b", "c"]) yield* store.append(`${f.category}-${s}`, "any", sent(4))
        yield* store.append(`${f.category}-a`, "any", [{ eventId: crypto.randomUUID(), type: "Noise", data: {} }])
        yield* store.append(`other${f.id}-x`, "any", sent(2))
        const last = yield* store.append(`${f.category}-b`, "any", sent(2, 4))
        yield* relay.projections.waitFor(f.name, last.checkpoint, "30 seconds")

        const messages = yield* drain(SHARED_AMQP, f.queue)
        assert.strictEqual(messages.length, 14, "12 + 2 Sent events; Noise maps to nothing; other categories are not read")
        assert.deepStrictEqual(messages.map((m) => m.messageId), yield* storedOrder(f.category))
        assertStreamOrder(messages)
        const first = messages[0]!
        assert.strictEqual(first.routingKey, `${f.prefix}.${f.category}.ParcelSent`)
        assert.strictEqual(first.contentType, "application/json")
        assert.strictEqual(first.deliveryMode, 2)
        assert.deepStrictEqual(first.payload, { type: "ParcelSent", version: 3, data: { parcel: `${f.category}-a`, n: 0 } })
        const events = yield* store.readStream(`${f.category}-a`)
        assert.strictEqual(first.messageId, events[0]!.eventId)
        assert.deepInclude(first.headers, {
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
          [Relay.Headers.contractVersion]: "3",
          [Relay.Headers.contentType]: "application/json"
        })
        assert.strictEqual((yield* relay.status).parkedStreams, 0)
      }))

    it.effect("a relay stopped mid-way and a lost confirm republish: no event lost, repeats share the message id", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        const outer = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(outer, Exit.void))
        yield* bindQueue(SHARED_AMQP, f.exchange, f.queue, f.prefix).pipe(Scope.provide(outer))
        const sink = yield* amqpSink(f, SHARED_AMQP, outer)
        const first = losing(sink, 1)
        const scopeA = yield* Scope.make()
        yield* startRelay(f, first.sink, scopeA, { batchSize: 20, owner: "a" })
        for (let round = 0; round < 15; round++) {
          for (const s of ["a", "b"]) yield* store.append(`${f.category}-${s}`, "any", sent(10, round * 10))
        }
        yield* waitForCount(SHARED_AMQP, f.queue, 1)
        yield* Scope.close(scopeA, Exit.void)
        for (const s of ["a", "b"]) yield* store.append(`${f.category}-${s}`, "any", sent(10, 150))
        const relayB = yield* startRelay(f, sink, outer, { batchSize: 20, owner: "b" })
        yield* relayB.projections.waitFor(f.name, (yield* store.readStream(`${f.category}-b`)).at(-1)!.checkpoint, "30 seconds")

        const expected = yield* storedOrder(f.category)
        const messages = yield* drain(SHARED_AMQP, f.queue)
        assert.strictEqual(first.lost(), 1)
        assert.strictEqual(expected.length, 320)
        assert.isAbove(messages.length, expected.length, "the batch whose confirm was lost arrived twice")
        assert.deepStrictEqual(new Set(messages.map((m) => m.messageId)), new Set(expected))
        const unique = deduplicated(messages)
        assert.deepStrictEqual(unique.map((m) => m.messageId), expected, "first deliveries in the store's order")
        assertStreamOrder(unique)
        for (const m of messages) assert.strictEqual(m.headers[Relay.Headers.eventId], m.messageId)
      }))

    it.effect("a connection closed by the broker stalls the relay without parking; it resumes when let back in", () =>
      Effect.gen(function*() {
        const f = fixture()
        const store = yield* EventStore
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        const vhost = yield* ownVhost(`verity-${f.id}`).pipe(Scope.provide(scope))
        yield* bindQueue(vhost.url, f.exchange, f.queue, f.prefix).pipe(Scope.provide(scope))
        const relay = yield* startRelay(f, yield* amqpSink(f, vhost.url, scope), scope, { batchSize: 50 })
        yield* store.append(`${f.category}-a`, "any", sent(50))
        yield* waitForCount(vhost.url, f.queue, 50)
        for (let i = 0; i < 4; i++) yield* store.append(`${f.category}-${i % 2 === 0 ? "a" : "b"}`, "any", sent(100, 50 + i * 100))
        assert.isAtLeast(yield* vhost.cut, 1, "the sink's connection was closed by the broker")
        const last = yield* store.append(`${f.category}-c`, "any", sent(50))
        const stalled = yield* eventually(
          "the relay reports the outage",
          relay.status,
          (s) => s.state === "stalled" && s.active?.lastError !== null,
          { timeout: "30 seconds", interval: "100 millis" }
        )
        assert.strictEqual(stalled.parkedStreams, 0)
        assert.match(stalled.active?.lastError ?? "", /broker Unavailable/)

        yield* vhost.restore
        yield* relay.projections.waitFor(f.name, last.checkpoint, "60 seconds")
        const expected = yield* storedOrder(f.category)
        const messages = yield* drain(vhost.url, f.queue)
        assert.strictEqual(expected.length, 500)
        assert.deepStrictEqual(new Set(messages.map((m) => m.messageId)), new Set(expected))
        const unique = deduplicated(messages)
        assert.deepStrictEqual(unique.map((m) => m.messageId), expected)
        assertStreamOrder(unique)
        const status = yield* eventually("the relay live again", relay.status, (s) => s.state === "live", { timeout: "30 seconds" })
        assert.strictEqual(status.parkedStreams, 0)
      }))
  })
})
