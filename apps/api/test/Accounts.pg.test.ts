/**
 * The accounts endpoints end to end over HTTP on real PostgreSQL: every command, ETag / If-Match (412
 * with the current ETag), the domain's rules as 409 / 422 problems, 404s, the account summary (one,
 * a page, read-your-writes), the history with metadata, and time travel by version and by instant.
 */
import { assert, layer } from "@effect/vitest"
import { Account } from "@verity/domain"
import { EventStore } from "@verity/eventstore"
import { LedgerStreams } from "@verity/ledger"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect, Schema } from "effect"
import * as T from "./support/TestApi.ts"

const decode = Schema.decodeUnknownSync(Account.AccountCommand)

const unknownId = "00000000-0000-4000-8000-000000000000"

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("accounts", (it) => {
    it.effect("opens an account: 201, Location, ETag, and the summary follows (read-your-writes)", () =>
      Effect.gen(function*() {
        const opened = yield* T.alice.post("/accounts", { holderName: "Ada Lovelace", holderEmail: "ada@example.com", currency: "EUR" })
        assert.strictEqual(opened.status, 201)
        const id = opened.body.accountId as string
        assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        assert.strictEqual(opened.body.version, 1)
        assert.strictEqual(opened.headers.get("etag"), "\"1\"")
        assert.strictEqual(opened.headers.get("location"), `/accounts/${id}`)
        const summary = yield* T.alice.get(`/accounts/${id}?waitForPosition=${opened.body.position}`)
        assert.strictEqual(summary.status, 200)
        assert.strictEqual(summary.headers.get("etag"), "\"1\"")
        assert.deepInclude(summary.body, {
          accountId: id,
          holderName: "Ada Lovelace",
          holderEmail: "ada@example.com",
          currency: "EUR",
          balance: 0,
          overdraftLimit: 0,
          status: "open",
          frozen: false,
          version: 1,
          erased: false
        })
      }))

    it.effect("deposit, withdraw, overdraft, holder, freeze, unfreeze, close: versions and ETags", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const path = `/accounts/${id}`
        const dep = yield* T.alice.post(`${path}/deposits`, { amount: 1000 })
        assert.strictEqual(dep.status, 200)
        assert.deepInclude(dep.body, { accountId: id, version: 2 })
        assert.strictEqual(dep.headers.get("etag"), "\"2\"")
        const wd = yield* T.alice.post(`${path}/withdrawals`, { amount: 300, currency: "EUR" })
        assert.strictEqual(wd.body.version, 3)
        const limit = yield* T.alice.put(`${path}/overdraft`, { limit: 500 })
        assert.strictEqual(limit.status, 200)
        assert.strictEqual(limit.body.version, 4)
        const holder = yield* T.alice.put(`${path}/holder`, { holderName: "New Name", holderEmail: "new@example.com" })
        assert.strictEqual(holder.body.version, 5)
        const frozen = yield* T.alice.post(`${path}/freeze`, { reason: "suspicious activity" })
        assert.strictEqual(frozen.body.version, 6)
        // A frozen account lets no money out.
        T.isProblem(yield* T.alice.post(`${path}/withdrawals`, { amount: 1 }), 409, "AccountIsFrozen")
        // Freezing again changes nothing: same version, no position.
        const again = yield* T.alice.post(`${path}/freeze`, { reason: "suspicious activity" })
        assert.strictEqual(again.body.version, 6)
        assert.isUndefined(again.body.position)
        assert.strictEqual((yield* T.alice.post(`${path}/unfreeze`)).body.version, 7)
        T.isProblem(yield* T.alice.post(`${path}/close`), 409, "BalanceNotZero")
        yield* T.alice.post(`${path}/withdrawals`, { amount: 700 })
        const closed = yield* T.alice.post(`${path}/close`)
        assert.strictEqual(closed.status, 200)
        assert.strictEqual(closed.body.version, 9)
        const afterClose = T.isProblem(yield* T.alice.post(`${path}/deposits`, { amount: 1 }), 409, "AccountIsClosed")
        assert.strictEqual(afterClose.type, "urn:verity:problem:AccountIsClosed")
        const summary = yield* T.alice.get(`${path}?waitForPosition=${closed.body.position}`)
        assert.deepInclude(summary.body, { status: "closed", balance: 0, version: 9, holderName: "New Name" })
      }))

    it.effect("If-Match: a matching version applies, a stale one is 412 with the current ETag", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const ok = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 10 }, { "if-match": "\"1\"" })
        assert.strictEqual(ok.status, 200)
        assert.strictEqual(ok.headers.get("etag"), "\"2\"")
        const before = yield* T.eventCount
        const stale = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 10 }, { "if-match": "\"1\"" })
        const problem = T.isProblem(stale, 412, "PreconditionFailed")
        assert.strictEqual(stale.headers.get("etag"), "\"2\"")
        assert.deepInclude(problem, { expectedVersion: 1, currentVersion: 2 })
        assert.strictEqual(yield* T.eventCount, before, "a stale command writes nothing")
        // Weak tags and PUT endpoints take it too.
        assert.strictEqual((yield* T.alice.put(`/accounts/${id}/overdraft`, { limit: 5 }, { "if-match": "W/\"2\"" })).status, 200)
        T.isProblem(yield* T.alice.put(`/accounts/${id}/holder`, { holderName: "X", holderEmail: "x@example.com" }, { "if-match": "\"2\"" }), 412)
        T.isProblem(yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 1 }, { "if-match": "yesterday" }), 400)
      }))

    it.effect("domain rules: 422 for rules the request breaks, with the rule as type and title", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        yield* T.deposit(id, 100)
        const funds = T.isProblem(yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 101 }), 422, "InsufficientFunds")
        assert.deepInclude(funds, { type: "urn:verity:problem:InsufficientFunds", balance: 100, requested: 101, overdraftLimit: 0 })
        const currency = T.isProblem(yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 1, currency: "USD" }), 422, "CurrencyMismatch")
        assert.deepInclude(currency, { accountCurrency: "EUR", requestedCurrency: "USD" })
        yield* T.alice.put(`/accounts/${id}/overdraft`, { limit: 50 })
        yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 140 })
        T.isProblem(yield* T.alice.put(`/accounts/${id}/overdraft`, { limit: 10 }), 422, "OverdraftLimitViolated")
      }))

    it.effect("another writer in between (this process's cached state is stale): commands decide on the real state", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        yield* T.deposit(id, 100)
        // Another process withdraws 80 behind this API's back, through the ledger's own command handler.
        yield* LedgerStreams.Accounts.handle(id, decode({ _tag: "Withdraw", accountId: id, amount: 80, currency: "EUR", at: Date.now() }))
          .pipe(Effect.orDie)
        // Cached: balance 100 at version 2; real: 20 at version 3. A withdrawal of 50 must be refused.
        T.isProblem(yield* T.alice.post(`/accounts/${id}/withdrawals`, { amount: 50 }), 422, "InsufficientFunds")
        const deposit = yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 5 })
        assert.strictEqual(deposit.body.version, 4)
        assert.strictEqual((yield* T.alice.get(`/accounts/${id}/state`)).body.state.balance, 25)
      }))

    it.effect("unknown accounts are 404 problems on every account endpoint", () =>
      Effect.gen(function*() {
        const paths: ReadonlyArray<readonly [string, string, unknown?]> = [
          ["GET", `/accounts/${unknownId}`],
          ["GET", `/accounts/${unknownId}/events`],
          ["GET", `/accounts/${unknownId}/state`],
          ["POST", `/accounts/${unknownId}/deposits`, { amount: 1 }],
          ["POST", `/accounts/${unknownId}/withdrawals`, { amount: 1 }],
          ["POST", `/accounts/${unknownId}/freeze`, { reason: "x" }],
          ["POST", `/accounts/${unknownId}/unfreeze`],
          ["POST", `/accounts/${unknownId}/close`],
          ["PUT", `/accounts/${unknownId}/holder`, { holderName: "A", holderEmail: "a@example.com" }],
          ["PUT", `/accounts/${unknownId}/overdraft`, { limit: 1 }]
        ]
        for (const [method, path, json] of paths) {
          const reply = yield* T.request(method, path, { token: T.tokens.alice, ...(json === undefined ? {} : { json }) })
          const problem = T.isProblem(reply, 404, "NotFound")
          assert.strictEqual(problem.type, "urn:verity:problem:NotFound", `${method} ${path}`)
        }
        // A malformed id is a validation error, not a 404.
        const bad = T.isProblem(yield* T.alice.get("/accounts/not-a-uuid"), 400)
        assert.deepStrictEqual(bad.errors[0].path, ["params", "id"])
      }))

    it.effect("lists accounts page by page", () =>
      Effect.gen(function*() {
        const ids = [yield* T.openAccount(), yield* T.openAccount(), yield* T.openAccount()]
        const last = yield* T.deposit(ids[2]!, 5)
        yield* T.alice.get(`/accounts/${ids[2]}?waitForPosition=${last.position}`)
        const seen: Array<string> = []
        let after: string | undefined
        for (let page = 0; page < 50; page++) {
          const reply = yield* T.alice.get(`/accounts?limit=2${after === undefined ? "" : `&after=${encodeURIComponent(after)}`}`)
          assert.strictEqual(reply.status, 200)
          assert.isAtMost(reply.body.items.length, 2)
          seen.push(...reply.body.items.map((a: { accountId: string }) => a.accountId))
          after = reply.body.next
          if (after === undefined) break
        }
        for (const id of ids) assert.include(seen, id)
        assert.strictEqual(new Set(seen).size, seen.length, "no account twice")
        T.isProblem(yield* T.alice.get("/accounts?limit=0"), 400)
        T.isProblem(yield* T.alice.get("/accounts?limit=abc"), 400)
      }))

    it.effect("history: events with metadata, paged by version", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR", "Grace Hopper", "grace@example.com")
        yield* T.deposit(id, 10)
        yield* T.alice.post(`/accounts/${id}/deposits`, { amount: 20 }, { "x-request-id": "req-history-1" })
        const all = yield* T.alice.get(`/accounts/${id}/events`)
        assert.strictEqual(all.status, 200)
        assert.strictEqual(all.headers.get("etag"), "\"3\"")
        const events = all.body.events
        assert.deepStrictEqual(events.map((e: { readonly version: number; readonly type: string }) => [e.version, e.type]), [[1, "AccountOpened"], [
          2,
          "MoneyDeposited"
        ], [3, "MoneyDeposited"]])
        assert.strictEqual(events[0].data.holderName, "Grace Hopper", "personal data decrypted for the caller")
        assert.deepStrictEqual(events[0].erasedFields, [])
        assert.strictEqual(events[2].metadata.correlationId, "req-history-1")
        assert.strictEqual(events[2].metadata.actor, "alice")
        assert.isString(events[2].recordedAt)
        assert.isUndefined(all.body.nextFromVersion)
        const page = yield* T.alice.get(`/accounts/${id}/events?fromVersion=2&limit=1`)
        assert.deepStrictEqual(page.body.events.map((e: { readonly version: number }) => e.version), [2])
        assert.strictEqual(page.body.nextFromVersion, 3)
        T.isProblem(yield* T.alice.get(`/accounts/${id}/events?fromVersion=0`), 400)
      }))

    it.effect("history shows events at their current version; older stored versions are upcast and say so", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount("EUR")
        const store = yield* EventStore
        // A withdrawal stored by the v1 code: the retired type FundsWithdrawn with decimal euros.
        yield* store.append(`account-${id}`, 1, [{
          eventId: crypto.randomUUID(),
          type: "FundsWithdrawn",
          schemaVersion: 1,
          data: { accountId: id, amount: 12.5, at: 1_700_000_000_000 }
        }])
        const history = yield* T.alice.get(`/accounts/${id}/events`)
        const withdrawal = history.body.events[1]
        assert.deepInclude(withdrawal, { version: 2, type: "MoneyWithdrawn", schemaVersion: 2 })
        assert.deepStrictEqual(withdrawal.storedAs, { type: "FundsWithdrawn", schemaVersion: 1 })
        assert.deepInclude(withdrawal.data, { amount: 1250, currency: "EUR" })
        assert.isUndefined(history.body.events[0].storedAs)
      }))

    it.effect("time travel: the state at a version and at an instant", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        yield* T.deposit(id, 100)
        yield* Effect.sleep("30 millis")
        const between = new Date().toISOString()
        yield* Effect.sleep("30 millis")
        yield* T.deposit(id, 50)
        const atV2 = yield* T.alice.get(`/accounts/${id}/state?version=2`)
        assert.strictEqual(atV2.status, 200)
        assert.strictEqual(atV2.headers.get("etag"), "\"2\"")
        assert.deepInclude(atV2.body.state, { status: "Open", balance: 100 })
        const atTime = yield* T.alice.get(`/accounts/${id}/state?at=${encodeURIComponent(between)}`)
        assert.strictEqual(atTime.body.version, 2)
        assert.strictEqual(atTime.body.state.balance, 100)
        const now = yield* T.alice.get(`/accounts/${id}/state`)
        assert.strictEqual(now.body.version, 3)
        assert.strictEqual(now.body.state.balance, 150)
        const before = yield* T.alice.get(`/accounts/${id}/state?at=2000-01-01T00:00:00Z`)
        assert.strictEqual(before.body.version, 0)
        assert.strictEqual(before.body.state.status, "Unopened")
        T.isProblem(yield* T.alice.get(`/accounts/${id}/state?at=yesterday`), 400)
        T.isProblem(yield* T.alice.get(`/accounts/${id}/state?at=${encodeURIComponent(between)}&version=1`), 400)
      }))

    it.effect("read-your-writes that cannot be met in time is a 503 problem", () =>
      Effect.gen(function*() {
        const id = yield* T.openAccount()
        const reply = yield* T.alice.get(`/accounts/${id}?waitForPosition=999999999999`)
        T.isProblem(reply, 503, "ProjectionNotCaughtUp")
        assert.strictEqual(reply.headers.get("retry-after"), "1")
      }), { timeout: 30_000 })
  })
})
