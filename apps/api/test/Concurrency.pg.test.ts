/**
 * 32 clients depositing into the same account at once.
 *
 * - One API process, without If-Match: the account's commands queue and are batched, so none conflicts:
 *   every deposit is 200 (no 409), each has its own version, the balance is exact, and the deposits share
 *   far fewer appends (transactions) than there are requests. The same with an `Idempotency-Key` on every
 *   request (those append in their own transaction, serialised on the account's row).
 * - One API process, with If-Match: clients retry 412s with the ETag the 412 carries.
 * - Two real API processes on one database hammering one account: conflicts between them are retried
 *   within the budget; any 409 that remains carries `Retry-After` and, sent again with its
 *   `Idempotency-Key`, is decided afresh (never replayed); the balance is exactly the accepted deposits.
 * - A conflict that outlasts the budget is 409 + Retry-After and is not recorded under its key.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { EventStore, MasterKeys, WrongExpectedVersion } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as ServerProcess from "./support/ServerProcess.ts"
import * as T from "./support/TestApi.ts"

const CLIENTS = 32
const DEPOSITS_PER_CLIENT = 4

const balanceOf = (id: string) => Effect.map(T.alice.get(`/accounts/${id}/state`), (r) => r.body.state.balance as number)

/** How many transactions wrote the account's deposits: one per append. */
const appendsOf = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql<{ readonly n: bigint }>`
      SELECT count(DISTINCT transaction_id) AS n FROM verity.events WHERE stream_id = ${`account-${id}`} AND type = 'MoneyDeposited'`
    return Number(rows[0]?.n ?? 0)
  }).pipe(Effect.orDie)

/** The streams whose appends conflict while listed, as if another process kept writing them. */
const contested = new Set<string>()

const contestedStore = Layer.effect(
  EventStore,
  Effect.gen(function*() {
    const store = yield* EventStore
    return EventStore.of({
      ...store,
      append: (stream, expected, events, options) =>
        contested.has(stream)
          ? Effect.fail(new WrongExpectedVersion({ stream, expected, actual: typeof expected === "number" ? expected + 1 : 1 }))
          : store.append(stream, expected, events, options)
    })
  })
)

const hotDeposits = (id: string, headers: (client: number, n: number) => Record<string, string> | undefined) =>
  Effect.forEach(
    Array.from({ length: CLIENTS }, (_, c) => c),
    (client) =>
      Effect.forEach(Array.from({ length: DEPOSITS_PER_CLIENT }, (_, n) => n), (n) =>
        Effect.map(T.alice.post(`/accounts/${id}/deposits`, { amount: client + 1 }, headers(client, n)), (reply) => ({ client, reply }))),
    {
      concurrency: CLIENTS
    }
  ).pipe(Effect.map((outcomes) =>
    outcomes.flat()
  ))

const EXPECTED_SUM = DEPOSITS_PER_CLIENT * (CLIENTS * (CLIENTS + 1)) / 2

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "180 seconds" })("concurrency", (it) => {
    it.effect("one API, without If-Match: no 409, every deposit applied once, batched into few appends", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const replies = yield* hotDeposits(id, () => undefined)
        const statuses = replies.map((r) => r.reply.status)
        assert.deepStrictEqual(statuses.filter((s) => s !== 200), [], "every deposit is 200: no ConcurrencyConflict from one process")
        const versions = replies.map((r) => r.reply.body.version as number)
        assert.strictEqual(new Set(versions).size, versions.length, "every accepted deposit has its own version")
        assert.strictEqual(yield* balanceOf(id), EXPECTED_SUM)
        const appends = yield* appendsOf(id)
        assert.isBelow(appends, replies.length / 2, `${replies.length} deposits in ${appends} appends: queued and batched`)
      }))

    it.effect("one API, an Idempotency-Key on every deposit: no 409, every deposit applied once", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const replies = yield* hotDeposits(id, (client, n) => ({ "idempotency-key": `hot-${id}-${client}-${n}` }))
        const refused = replies.filter((r) => r.reply.status !== 200)
        // 503 Overloaded is the admission limit speaking (keyed requests hold their slot for the transaction).
        assert.deepStrictEqual(refused.filter((r) => r.reply.status !== 503).map((r) => r.reply.text), [], "no 409")
        const accepted = replies.filter((r) => r.reply.status === 200).reduce((sum, r) => sum + r.client + 1, 0)
        assert.isAbove(accepted, 0)
        assert.strictEqual(yield* balanceOf(id), accepted)
      }))

    it.effect("with If-Match: clients retry 412 with the fresh ETag; the balance is the sum of accepted deposits", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        let stale = 0
        const client = (c: number) =>
          Effect.gen(function*() {
            let etag = "\"1\""
            let accepted = 0
            let done = 0
            for (let attempt = 0; attempt < 400 && done < DEPOSITS_PER_CLIENT; attempt++) {
              const reply = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: c + 1 }, { "if-match": etag })
              if (reply.status === 200) {
                accepted += c + 1
                done++
                etag = reply.headers.get("etag")!
              } else if (reply.status === 412) {
                stale++
                etag = reply.headers.get("etag")!
                T.isProblem(reply, 412, "PreconditionFailed")
              } else {
                assert.strictEqual(reply.status, 503, reply.text)
                yield* Effect.sleep("5 millis")
              }
            }
            assert.strictEqual(done, DEPOSITS_PER_CLIENT, `client ${c} got its deposits through`)
            return accepted
          })
        const sums = yield* Effect.forEach(Array.from({ length: CLIENTS }, (_, c) => c), client, { concurrency: CLIENTS })
        const expected = sums.reduce((a, b) => a + b, 0)
        assert.strictEqual(yield* balanceOf(id), expected)
        assert.strictEqual(expected, EXPECTED_SUM)
        assert.isAbove(stale, 0, "clients did race")
      }))
  })

  layer(T.layerWith(target, {}, contestedStore), { excludeTestServices: true, timeout: "120 seconds" })("conflicts beyond the budget", (it) => {
    it.effect("409 ConcurrencyConflict with Retry-After, not recorded under its Idempotency-Key", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        contested.add(`account-${id}`)
        const keyed = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": `contested-${id}` })
        const plain = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 7 })
        contested.delete(`account-${id}`)
        for (const reply of [keyed, plain]) {
          T.isProblem(reply, 409, "ConcurrencyConflict")
          assert.strictEqual(reply.headers.get("retry-after"), "1")
        }
        const retried = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": `contested-${id}` })
        assert.strictEqual(retried.status, 200, retried.text)
        assert.isNull(retried.headers.get("idempotent-replayed"), "the 409 was not recorded: the retry decided afresh")
        const again = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 }, { "idempotency-key": `contested-${id}` })
        assert.strictEqual(again.headers.get("idempotent-replayed"), "true", "the 200 is the recorded answer")
        assert.strictEqual(yield* balanceOf(id), 5)
      }).pipe(Effect.ensuring(Effect.sync(() => contested.clear()))))
  })

  describe("two API processes on one database", () => {
    it.live("hammering one account: conflicts retried, residual 409s carry Retry-After and are not replayed", () =>
      Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const token = "hot-token-0123456789abcdef"
        const env = {
          DATABASE_URL: url,
          VERITY_MASTER_KEYS: MasterKeys.generate("hot1"),
          VERITY_API_TOKENS: `hot:${token}:read,write,admin`,
          VERITY_PROJECTIONS: "off",
          LOG_LEVEL: "Warn"
        }
        const startServer = Effect.acquireRelease(
          Effect.promise(() => ServerProcess.start(env, { probe: "/health" })),
          (server) => Effect.promise(() => server.stop())
        )
        // One after the other: the first runs the migrations.
        const a = yield* startServer
        const b = yield* startServer
        const post = (base: string, path: string, json: unknown, headers?: Record<string, string>) =>
          Effect.promise(() => T.send(base + path, "POST", { token, json, ...(headers === undefined ? {} : { headers }) }))
        const opened = yield* post(a.url, "/accounts", { holderName: "Hot Holder", holderEmail: "hot@example.com", currency: "EUR" })
        assert.strictEqual(opened.status, 201, opened.text)
        const id = opened.body.accountId as string

        const results = yield* Effect.forEach(Array.from({ length: CLIENTS }, (_, c) => c), (client) =>
          Effect.forEach(
            Array.from({ length: 6 }, (_, n) => n),
            (n) =>
              Effect.gen(function*() {
                const base = client % 2 === 0 ? a.url : b.url
                const key = n % 3 === 0 ? `two-${client}-${n}` : undefined
                const headers = key === undefined ? undefined : { "idempotency-key": key }
                let reply = yield* post(base, `/accounts/${id}/deposits`, { amount: 1 }, headers)
                let conflicts = 0
                // A client honouring Retry-After retries the 409 (with the same key: it must decide afresh).
                for (let retry = 0; reply.status === 409 && retry < 20; retry++) {
                  conflicts++
                  T.isProblem(reply, 409, "ConcurrencyConflict")
                  assert.strictEqual(reply.headers.get("retry-after"), "1", "a 409 says when to retry")
                  reply = yield* post(base, `/accounts/${id}/deposits`, { amount: 1 }, headers)
                  if (key !== undefined) assert.isNull(reply.headers.get("idempotent-replayed"), "a 409 is never replayed")
                }
                return { status: reply.status, conflicts, text: reply.text }
              })
          ), { concurrency: CLIENTS }).pipe(Effect.map((all) => all.flat()))

        const other = results.filter((r) => r.status !== 200 && r.status !== 503)
        assert.deepStrictEqual(other.map((r) => `${r.status} ${r.text}`), [], "only 200 (or 503 Overloaded) in the end")
        const accepted = results.filter((r) => r.status === 200).length
        assert.isAbove(accepted, results.length / 2, "most deposits get through")
        const state = yield* Effect.promise(() => T.send(`${b.url}/accounts/${id}/state`, "GET", { token }))
        assert.strictEqual(state.body.state.balance, accepted, "every accepted deposit applied exactly once")
      }).pipe(Effect.scoped), { timeout: 240_000 })
  })
})
