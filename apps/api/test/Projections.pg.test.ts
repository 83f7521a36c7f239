/**
 * Projection operations over HTTP (scope admin): status, a blue/green rebuild that switches generations,
 * a verified switch that a generation differing from the events cannot pass (its rows in the status) unless
 * the rebuild asks `?skipVerify=true`, a process manager that cannot be rebuilt (409), parked streams listed, skipped and retried, and 404s
 * for unknown projections or streams that are not parked.
 */
import { assert, layer } from "@effect/vitest"
import { EventStore } from "@verity/eventstore"
import { eventually, forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as T from "./support/TestApi.ts"

/** Polls the API gently while a projection catches up. */
const poll = { interval: "50 millis" } as const

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("projections", (it) => {
    it.effect("status lists every projection with its generation and lag", () =>
      Effect.gen(function*() {
        yield* T.deposit(yield* T.openAccount(), 10)
        const reply = yield* eventually("live projections", T.ops.get("/projections"), (r) =>
          r.status === 200 && (r.body as Array<T.Json>).every((p) =>
            p.state === "live"
          ), poll)
        const names = (reply.body as Array<T.Json>).map((p) =>
          p.name
        )
        assert.includeMembers(names, ["account_summary", "transfer_process"])
        const summary = (reply.body as Array<T.Json>).find((p) => p.name === "account_summary")
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
        yield* eventually("the rebuilt generation", T.ops.get("/projections"), (r) =>
          (r.body as Array<T.Json>).find((p) =>
            p.name === "account_summary"
          )?.active?.generation === generation, poll)
        T.isProblem(yield* T.ops.post("/projections/transfer_process/rebuild"), 409, "NotReplayable")
        T.isProblem(yield* T.ops.post("/projections/nope/rebuild"), 404)
      }))

    it.effect("a rebuild that differs from the events is refused, its rows in the status; ?skipVerify=true switches", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        yield* T.deposit(yield* T.openAccount(), 10)
        const summaryOf = (reply: T.Reply): T.Json => (reply.body as Array<T.Json>).find((p) => p.name === "account_summary")
        const live = yield* eventually("a live summary", T.ops.get("/projections"), (r) => summaryOf(r)?.state === "live", poll)
        const before = summaryOf(live).active.generation as number
        const [latest] = yield* sql<{ readonly n: number }>`
          SELECT max(generation) AS n FROM verity_projections.generations WHERE name = 'account_summary'`.pipe(Effect.orDie)
        const next = latest!.n + 1
        const bogus = crypto.randomUUID()
        // Hold the new generation's runner lock so that a row can be slipped into its tables before it builds.
        yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* sql.reserve
          const key = `verity_projections:account_summary:${next}`
          yield* connection.executeValues("SELECT pg_advisory_lock(hashtextextended($1, 0))", [key])
          const started = yield* T.ops.post("/projections/account_summary/rebuild")
          assert.strictEqual(started.status, 202)
          assert.strictEqual(started.body.generation, next)
          yield* sql`
            INSERT INTO ${sql(`account_summary_g${next}.accounts`)} (account_id, holder_name, holder_email, currency, balance,
              overdraft_limit, status, frozen, version, opened_at, updated_at, erased)
            VALUES (${bogus}, 'Tampered', 'tampered@example.org', 'EUR', 1, 0, 'open', false, 1, now(), now(), false)`
          yield* connection.executeValues("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key])
        })).pipe(Effect.orDie)
        const refused = yield* eventually("a refused switch", T.ops.get("/projections"), (r) => summaryOf(r)?.building?.refusal !== undefined, poll)
        const summary = summaryOf(refused)
        assert.strictEqual(summary.active.generation, before, "readers stay on the verified generation")
        assert.strictEqual(summary.building.generation, next)
        const accounts = (summary.building.refusal.tables as Array<T.Json>).find((t) => t.table === "accounts")
        assert.strictEqual(accounts.differences, 1)
        assert.deepStrictEqual(accounts.rows[0].key, { account_id: bogus })
        assert.strictEqual(accounts.rows[0].live.holder_name, "Tampered")
        assert.notProperty(accounts.rows[0], "expected", "no event makes that row")

        T.isProblem(yield* T.ops.post("/projections/account_summary/rebuild?skipVerify=maybe"), 400)
        const skipped = yield* T.ops.post("/projections/account_summary/rebuild?skipVerify=true")
        assert.strictEqual(skipped.status, 202)
        assert.strictEqual(skipped.body.generation, next + 1, "the refused generation is replaced")
        yield* eventually(
          "the unverified generation is active",
          T.ops.get("/projections"),
          (r) => summaryOf(r)?.active?.generation === next + 1,
          poll
        )
      }))

    it.effect("a poison event parks its stream; operators see it and skip it", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const id = yield* T.openAccount()
        // An event no read model can apply, as a bug elsewhere might write it.
        yield* store.append(`account-${id}`, "any", [
          { eventId: crypto.randomUUID(), type: "MoneyDeposited", schemaVersion: 2, data: { accountId: id, amount: "lots" } }
        ]).pipe(Effect.orDie)
        const parked = yield* eventually("a parked stream", T.ops.get("/projections/account_summary/parked"), (r) =>
          (r.body as Array<T.Json>).length > 0, poll)
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
