/**
 * A database that cannot serve: commands answer 503 problems with Retry-After (never a 500, never a hang),
 * such answers are not recorded under an Idempotency-Key (the retry decides once the store is back). The
 * store is made to fail through a decorator the test switches on and off.
 */
import { assert, layer } from "@effect/vitest"
import { EventStore, StoreUnavailable } from "@verity/eventstore"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect, Layer } from "effect"
import * as T from "./support/TestApi.ts"

let down = false

const failure = () => new StoreUnavailable({ operation: "append", reason: "Connection", retryable: false, detail: "test: store is down" })

/** The real store, whose appends fail while `down` is set. */
const switchableStore = Layer.effect(
  EventStore,
  Effect.gen(function*() {
    const store = yield* EventStore
    return EventStore.of({
      ...store,
      append: (stream, expected, events, options) => down ? Effect.fail(failure()) : store.append(stream, expected, events, options)
    })
  })
)

forEachDatabase((target) => {
  layer(T.layerWith(target, {}, switchableStore), { excludeTestServices: true, timeout: "120 seconds" })("store unavailable", (it) => {
    it.effect("503 + Retry-After while the store is down; the idempotent retry decides once it is back", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        down = true
        const refused = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "down-1" })
        down = false
        T.isProblem(refused, 503, "ServiceUnavailable")
        assert.strictEqual(refused.headers.get("retry-after"), "1")
        const retried = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": "down-1" })
        assert.strictEqual(retried.status, 200)
        assert.isNull(retried.headers.get("idempotent-replayed"), "the 503 was not recorded")
        assert.strictEqual((yield* T.alice.get(`/accounts/${id}/state`)).body.state.balance, 5)
      }).pipe(Effect.ensuring(Effect.sync(() => (down = false)))))
  })
})
