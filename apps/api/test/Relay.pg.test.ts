/**
 * The API with `NATS_URL` set, black-box (a real process, projections in the worker thread) against the
 * machine's NATS JetStream: an account opened and credited reaches the stream as the ledger's published
 * events (type, version, data; headers; no personal data), `/ready` reports the broker and `GET /projections`
 * the relay's lag. With the broker away, the API still starts, serves commands and stays ready, saying why.
 */
import { assert, describe, it } from "@effect/vitest"
import { MasterKeys } from "@verity/eventstore"
import { countMessages, deleteStream, readStream, SHARED_NATS, unique } from "@verity/integration/testing"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as ServerProcess from "./support/ServerProcess.ts"

const TOKEN = "relay-token-0123456789"
const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }

interface RelayStatus {
  readonly name: string
  readonly state: string
  readonly parkedStreams: number
  readonly active?: { readonly lagEvents: number; readonly lagSeconds: number }
}

const relayStatus = (url: string) =>
  Effect.map(call(`${url}/projections`, "GET"), (r) => (r.body as ReadonlyArray<RelayStatus>).find((p) => p.name === "relay"))

const call = (url: string, method: "GET" | "POST", body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      headers,
      signal: AbortSignal.timeout(10_000),
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    // oxlint-disable-next-line typescript/no-explicit-any -- response bodies are probed field by field
    return { status: response.status, body: (await response.json()) as any }
  })

const environment = (databaseUrl: string, natsUrl: string, stream: string, prefix: string) => ({
  DATABASE_URL: databaseUrl,
  VERITY_MASTER_KEYS: MasterKeys.generate("rl1"),
  VERITY_API_TOKENS: `ops:${TOKEN}:read,write,admin`,
  NATS_URL: natsUrl,
  VERITY_RELAY_STREAM: stream,
  VERITY_RELAY_PREFIX: prefix
})

forEachDatabase((target) => {
  describe("relay in the API", () => {
    it.live("an opened and credited account reaches JetStream as published events, without personal data", () =>
      Effect.gen(function*() {
        const id = unique()
        const stream = `API_${id}`
        const prefix = `api${id}`
        yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
        const env = environment(yield* TestDatabase.freshDatabaseUrl(target), SHARED_NATS, stream, prefix)
        const server = yield* Effect.acquireRelease(Effect.promise(() => ServerProcess.start(env)), (s) => Effect.promise(() => s.stop()))

        const ready = yield* call(`${server.url}/ready`, "GET")
        assert.strictEqual(ready.status, 200, JSON.stringify(ready.body))
        assert.deepStrictEqual(ready.body.checks.broker, { status: "ok" })
        assert.isDefined(ready.body.checks.projections.relay)

        const opened = yield* call(`${server.url}/accounts`, "POST", {
          holderName: "Ada Lovelace",
          holderEmail: "ada@example.com",
          currency: "EUR"
        })
        assert.strictEqual(opened.status, 201, JSON.stringify(opened.body))
        const accountId = opened.body.accountId as string
        const deposit = yield* call(`${server.url}/accounts/${accountId}/deposits`, "POST", { amount: 1250 })
        assert.strictEqual(deposit.status, 200, JSON.stringify(deposit.body))

        yield* eventually("two messages in the stream", countMessages(SHARED_NATS, stream), (n) => n >= 2, {
          timeout: "60 seconds",
          interval: "50 millis"
        })
        const messages = yield* readStream(SHARED_NATS, stream)
        assert.deepStrictEqual(messages.map((m) => m.subject), [`${prefix}.account.AccountOpened`, `${prefix}.account.MoneyDeposited`])
        const [first, second] = messages
        assert.deepInclude(first!.payload as object, { type: "AccountOpened", version: 1 })
        assert.deepInclude((first!.payload as { data: object }).data, { accountId, currency: "EUR" })
        assert.deepInclude(second!.payload as object, { type: "MoneyDeposited", version: 1 })
        assert.deepInclude((second!.payload as { data: object }).data, { accountId, amount: 1250, currency: "EUR" })
        for (const m of messages) {
          assert.notInclude(m.text, "Ada Lovelace")
          assert.notInclude(m.text, "ada@example.com")
          assert.strictEqual(m.headers["verity-stream"], `account-${accountId}`)
          assert.strictEqual(m.headers["Nats-Msg-Id"], m.headers["verity-event-id"])
          assert.strictEqual(m.headers["content-type"], "application/json")
          assert.match(m.headers["verity-position"] ?? "", /^\d+$/)
          assert.isString(m.headers["verity-correlation-id"])
        }
        assert.deepStrictEqual(messages.map((m) => m.headers["verity-stream-version"]), ["1", "2"])

        // The relay is a projection like the others: its lag shows, and drains to nothing.
        const relay = yield* eventually(
          "the relay caught up",
          relayStatus(server.url),
          (p) => p?.active?.lagEvents === 0,
          { timeout: "30 seconds", interval: "50 millis" }
        )
        assert.isNumber(relay?.active?.lagSeconds)
        assert.strictEqual(relay?.parkedStreams, 0)
      }).pipe(Effect.scoped), { timeout: 180_000 })

    it.live("with the broker away, the API starts, takes commands and stays ready, reporting the broker", () =>
      Effect.gen(function*() {
        const [closed] = yield* Effect.promise(() => ServerProcess.freePorts(1))
        const env = environment(yield* TestDatabase.freshDatabaseUrl(target), `nats://127.0.0.1:${closed}`, `AWAY_${unique()}`, "away")
        const server = yield* Effect.acquireRelease(Effect.promise(() => ServerProcess.start(env)), (s) => Effect.promise(() => s.stop()))
        const ready = yield* call(`${server.url}/ready`, "GET")
        assert.strictEqual(ready.status, 200, JSON.stringify(ready.body))
        assert.strictEqual(ready.body.checks.broker.status, "unreachable")
        assert.isString(ready.body.checks.broker.reason)
        const opened = yield* call(`${server.url}/accounts`, "POST", { holderName: "Bo", holderEmail: "bo@example.com", currency: "EUR" })
        assert.strictEqual(opened.status, 201)
        // The relay waits for the broker: it has not published, and says it is behind.
        const relay = yield* eventually(
          "the relay reports its lag",
          relayStatus(server.url),
          (p) => (p?.active?.lagEvents ?? 0) >= 1,
          { timeout: "30 seconds", interval: "50 millis" }
        )
        assert.notStrictEqual(relay?.state, "parked")
      }).pipe(Effect.scoped), { timeout: 180_000 })
  })
})
