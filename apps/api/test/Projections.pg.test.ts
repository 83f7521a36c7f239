/**
 * Projection operations over HTTP (scope admin): status, a blue/green rebuild that switches generations,
 * a process manager that cannot be rebuilt (409), parked streams listed, skipped and retried, and 404s
 * for unknown projections or streams that are not parked.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { EventStore } from "@verity/eventstore"
import { forEachDatabase } from "@verity/eventstore/testing"
import * as T from "./support/TestApi.ts"

const until = <A, R>(label: string, probe: Effect.Effect<A, never, R>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      const value = yield* probe
      if (done(value)) return value
      yield* Effect.sleep("50 millis")
    }
    throw new Error(`timed out waiting for ${label}`)
  })

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("projections", (it) => {
    it.effect("status lists every projection with its generation and lag", () =>
      Effect.gen(function*() {
        yield* T.deposit(yield* T.openAccount(), 10)
        const reply = yield* until("live projections", T.ops.get("/projections"), (r) =>
          r.status === 200 && (r.body as Array<any>).every((p) => p.state === "live"))
        const names = (reply.body as Array<any>).map((p) => p.name)
        assert.includeMembers(names, ["account_summary", "transfer_process"])
        const summary = (reply.body as Array<any>).find((p) => p.name === "account_summary")
        assert.strictEqual(summary.active.generation, 1)
        assert.isString(summary.active.checkpoint)
        assert.strictEqual(summary.parkedStreams, 0)
      }))

    it.effect("rebuild starts a new generation that takes over (202); a process manager is not replayable", () =>
      Effect.gen(function*() {
        const started = yield* T.ops.post("/projections/account_summary/rebuild")
        assert.strictEqual(started.status, 202)
        assert.strictEqual(started.body.name, "account_summary")
        const generation = started.body.generation as number
        yield* until("the rebuilt generation", T.ops.get("/projections"), (r) =>
          (r.body as Array<any>).find((p) => p.name === "account_summary")?.active?.generation === generation)
        T.isProblem(yield* T.ops.post("/projections/transfer_process/rebuild"), 409, "NotReplayable")
        T.isProblem(yield* T.ops.post("/projections/nope/rebuild"), 404)
      }))

    it.effect("a poison event parks its stream; operators see it and skip it", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const id = yield* T.openAccount()
        // An event no read model can apply, as a bug elsewhere might write it.
        yield* store.append(`account-${id}`, "any", [
          { eventId: crypto.randomUUID(), type: "MoneyDeposited", schemaVersion: 2, data: { accountId: id, amount: "lots" } }
        ]).pipe(Effect.orDie)
        const parked = yield* until("a parked stream", T.ops.get("/projections/account_summary/parked"), (r) =>
          (r.body as Array<any>).length > 0)
        assert.strictEqual(parked.body[0].stream, `account-${id}`)
        assert.strictEqual(parked.body[0].eventType, "MoneyDeposited")
        const stream = encodeURIComponent(`account-${id}`)
        const skipped = yield* T.ops.post(`/projections/account_summary/parked/${stream}/skip`)
        assert.strictEqual(skipped.status, 200)
        assert.strictEqual(skipped.body.skipped, 1)
        assert.isTrue(skipped.body.resumed)
        T.isProblem(yield* T.ops.post(`/projections/account_summary/parked/${stream}/retry`), 404)
        assert.deepStrictEqual((yield* T.ops.get("/projections/account_summary/parked")).body, [])
      }))

    it.effect("unknown projections are 404", () =>
      Effect.gen(function*() {
        T.isProblem(yield* T.ops.get("/projections/nope/parked"), 404, "NotFound")
        T.isProblem(yield* T.ops.post("/projections/nope/parked/account-x/skip"), 404)
        T.isProblem(yield* T.ops.get("/projections/Bad-Name/parked"), 400)
      }))
  })
})
