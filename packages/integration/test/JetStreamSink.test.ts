/**
 * The JetStream sink on the machine's NATS server: a republished batch is kept once; a message whose
 * predecessor never reached the stream is refused as `OutOfOrder` (retryable), and republishing the batch
 * then stores it in order; an unreachable broker is a retryable `Unavailable`.
 */
import { assert, describe, it } from "@effect/vitest"
import { jetstream } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { Effect } from "effect"
import { JetStreamSink, type Sink } from "../src/index.ts"
import * as JetStreamPublisher from "../src/JetStreamPublisher.ts"
import { deleteStream, readStream, SHARED_NATS, unique } from "./Nats.ts"

const message = (id: string): Sink.OutboundMessage => ({
  subject: "parcel.ParcelSent",
  id,
  headers: { "verity-event-id": id },
  payload: new TextEncoder().encode(JSON.stringify({ type: "ParcelSent", version: 1, data: { id } }))
})

describe("JetStreamSink", () => {
  it.live("keeps a republished batch once, and refuses a message stored ahead of its predecessor", () =>
    Effect.gen(function*() {
      const id = unique()
      const stream = `SINK_${id}`
      const prefix = `s${id}`
      yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
      const sink = yield* JetStreamSink.make({ servers: SHARED_NATS, stream, prefix, ackTimeout: "2 seconds" })
      const [m1, m2, m3] = [message(`${id}-1`), message(`${id}-2`), message(`${id}-3`)]
      yield* sink.publish([m1])
      // m3 as if m2 had been lost in flight: it expects m2 as the stream's last message.
      const refused = yield* Effect.promise(async () => {
        const nc = await connect({ servers: SHARED_NATS })
        try {
          return await jetstream(nc).publish(`${prefix}.${m3.subject}`, m3.payload, { msgID: m3.id, expect: { lastMsgID: m2.id } })
            .then(() => undefined, (error: unknown) => JetStreamSink.classify(error, m3.id))
        } finally {
          await nc.close()
        }
      })
      assert.strictEqual(refused?.reason, "OutOfOrder")
      assert.isTrue(refused?.retryable)
      // The relay's retry: the whole batch again, m1 already stored.
      yield* sink.publish([m1, m2, m3])
      yield* sink.publish([m1, m2, m3])
      const stored = yield* readStream(SHARED_NATS, stream)
      assert.deepStrictEqual(stored.map((m) => m.headers["Nats-Msg-Id"]), [m1.id, m2.id, m3.id])
      assert.deepStrictEqual(stored.map((m) => m.subject), [1, 2, 3].map(() => `${prefix}.parcel.ParcelSent`))
    }).pipe(Effect.scoped))

  it.live("a header value with a line break is Rejected before anything is sent; the batch before it is stored", () =>
    Effect.gen(function*() {
      const id = unique()
      const stream = `SINK_${id}`
      yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
      const sink = yield* JetStreamSink.make({ servers: SHARED_NATS, stream, prefix: `s${id}`, ackTimeout: "2 seconds" })
      const bad = { ...message(`${id}-2`), headers: { "verity-event-id": "x\r\nInjected: 1" } }
      const error = yield* Effect.flip(sink.publish([message(`${id}-1`), bad]))
      assert.strictEqual(error.reason, "Rejected")
      assert.strictEqual(error.messageId, `${id}-2`)
      const stored = yield* readStream(SHARED_NATS, stream)
      assert.deepStrictEqual(stored.map((m) => m.headers["Nats-Msg-Id"]), [`${id}-1`])
    }).pipe(Effect.scoped))

  it("reads negative acknowledgements as the client's errors are read", () => {
    assert.strictEqual(JetStreamPublisher.fromAckError({ code: 400, err_code: 10070, description: "wrong last msg ID" }, "m").reason, "OutOfOrder")
    assert.strictEqual(JetStreamPublisher.fromAckError({ code: 503, description: "no responders" }, "m").reason, "Unavailable")
    assert.strictEqual(
      JetStreamPublisher.fromAckError({ code: 400, err_code: 10054, description: "maximum payload exceeded" }, "m").reason,
      "Rejected"
    )
  })

  it.live("an unreachable broker is a retryable Unavailable", () =>
    Effect.gen(function*() {
      const sink = yield* JetStreamSink.make({ servers: "nats://127.0.0.1:1", stream: "NOWHERE", prefix: "nowhere" })
      const error = yield* Effect.flip(sink.publish([message("x")]))
      assert.strictEqual(error.reason, "Unavailable")
      assert.isTrue(error.retryable)
    }).pipe(Effect.scoped))
})
