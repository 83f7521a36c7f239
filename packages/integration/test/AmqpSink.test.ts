/**
 * The RabbitMQ sink on the machine's broker: a batch with no queue bound is confirmed (unroutable is not
 * an error) and a bound queue then receives a republished batch twice, with the same message ids (no
 * broker-side de-duplication); an unreachable broker is a retryable `Unavailable`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { AmqpSink, type Sink } from "../src/index.ts"
import { bindQueue, drain, SHARED_AMQP } from "./Amqp.ts"
import { unique } from "./Nats.ts"

const message = (id: string): Sink.OutboundMessage => ({
  subject: "parcel.ParcelSent",
  id,
  headers: { "verity-event-id": id },
  payload: new TextEncoder().encode(JSON.stringify({ type: "ParcelSent", version: 1, data: { id } }))
})

describe("AmqpSink", () => {
  it.live("confirms an unroutable batch; a bound queue receives a republished batch twice", () =>
    Effect.gen(function*() {
      const id = unique()
      const [exchange, queue, prefix] = [`sink.${id}`, `sink.read.${id}`, `s${id}`]
      const sink = yield* AmqpSink.make({ url: SHARED_AMQP, exchange, prefix })
      const batch = [1, 2, 3].map((n) => message(`${id}-${n}`))
      yield* sink.publish(batch) // declares the exchange; nothing is bound yet
      yield* bindQueue(SHARED_AMQP, exchange, queue, prefix)
      yield* sink.publish(batch)
      yield* sink.publish(batch)
      const received = yield* drain(SHARED_AMQP, queue)
      assert.deepStrictEqual(received.map((m) => m.messageId), [...batch, ...batch].map((m) => m.id))
      assert.deepStrictEqual(new Set(received.map((m) => m.routingKey)), new Set([`${prefix}.parcel.ParcelSent`]))
    }).pipe(Effect.scoped))

  it.live("an unreachable broker is a retryable Unavailable", () =>
    Effect.gen(function*() {
      const sink = yield* AmqpSink.make({ url: "amqp://guest:guest@127.0.0.1:1", exchange: "nowhere", prefix: "nowhere" })
      const error = yield* Effect.flip(sink.publish([message("x")]))
      assert.strictEqual(error.reason, "Unavailable")
      assert.isTrue(error.retryable)
    }).pipe(Effect.scoped))
})
