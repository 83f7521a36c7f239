/**
 * Protection at the edge: bodies over the limit are 413 (declared or streamed without a length), and
 * under overload the API answers 503 + Retry-After quickly instead of queueing without bound, while the
 * probes stay available.
 */
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { forEachDatabase } from "@verity/eventstore/testing"
import * as T from "./support/TestApi.ts"

forEachDatabase((target) => {
  layer(T.layer(target, { maxBodyBytes: 1024 }), { excludeTestServices: true, timeout: "120 seconds" })("body limit", (it) => {
    it.effect("413 for a body over the limit, with or without Content-Length; nothing written", () =>
      Effect.gen(function*() {
        const before = yield* T.eventCount
        const big = JSON.stringify({ holderName: "x".repeat(2000), holderEmail: "a@example.com", currency: "EUR" })
        T.isProblem(yield* T.request("POST", "/accounts", { token: T.tokens.alice, raw: big }), 413, "PayloadTooLarge")
        const url = (yield* T.baseUrl) + "/accounts"
        const chunked = yield* Effect.promise(async () => {
          const encoder = new TextEncoder()
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < 8; i++) controller.enqueue(encoder.encode(big.slice(i * 300, (i + 1) * 300)))
              controller.close()
            }
          })
          const response = await fetch(url, {
            method: "POST",
            headers: { authorization: `Bearer ${T.tokens.alice}`, "content-type": "application/json" },
            body: stream,
            duplex: "half"
          } as RequestInit)
          return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
        })
        assert.strictEqual(chunked.status, 413, chunked.text)
        assert.match(chunked.type ?? "", /problem\+json/)
        assert.strictEqual(yield* T.eventCount, before)
        // Within the limit all is well.
        assert.strictEqual((yield* T.alice.post("/accounts", { holderName: "Small", holderEmail: "s@example.com", currency: "EUR" })).status, 201)
      }))
  })

  layer(
    T.layer(target, { maxConcurrent: 1, maxQueued: 1, queueTimeout: Duration.millis(200), readYourWritesTimeout: Duration.seconds(2) }),
    { excludeTestServices: true, timeout: "120 seconds" }
  )("overload", (it) => {
    it.effect("503 with Retry-After once the slots and the queue are taken; probes still answer", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        // Occupies the only slot for ~2 s: a read waiting for a position that will never come.
        const slow = yield* T.alice.get(`/accounts/${id}?waitForPosition=999999999999`).pipe(Effect.forkChild)
        yield* Effect.sleep("100 millis")
        const started = performance.now()
        const [queued, rejected] = yield* Effect.all([
          T.alice.get(`/accounts/${id}/state`),
          Effect.andThen(Effect.sleep("20 millis"), T.alice.get(`/accounts/${id}/state`))
        ], { concurrency: 2 })
        const elapsed = performance.now() - started
        T.isProblem(queued, 503, "Overloaded")
        T.isProblem(rejected, 503, "Overloaded")
        assert.strictEqual(queued.headers.get("retry-after"), "1")
        assert.isBelow(elapsed, 1500, "refused quickly, not after the slow request")
        assert.strictEqual((yield* T.request("GET", "/health")).status, 200)
        yield* Fiber.join(slow)
        // Capacity is back.
        assert.strictEqual((yield* T.alice.get(`/accounts/${id}/state`)).status, 200)
      }))
  })
})
