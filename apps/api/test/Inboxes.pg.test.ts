/**
 * The ledger's inbox in the API, black-box (a real process, the inbox in the projection worker thread, or
 * inline with `VERITY_PROJECTIONS=inline`)
 * against the machine's NATS JetStream: deposits and withdrawals published by the relay are handled by
 * the `fraud_watch` inbox (its table fills, GET /inboxes shows them handled with nothing pending), a
 * message the handler cannot decode parks its stream, and an admin releases it over HTTP (retry fails
 * again, skip dead-letters it) while a read token sees the status and may not release. Without
 * `NATS_URL` there is no inbox.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { MasterKeys } from "@verity/eventstore"
import { JetStreamSink, Relay } from "@verity/integration"
import { deleteStream, SHARED_NATS, unique } from "@verity/integration/testing"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Redacted } from "effect"
import * as ServerProcess from "./support/ServerProcess.ts"

const ADMIN = "inbox-admin-0123456789"
const READER = "inbox-reader-0123456789"

interface InboxStatus {
  readonly name: string
  readonly state: string
  readonly stream: string
  readonly filterSubject: string | null
  readonly handled: number
  readonly lastSeq: number | null
  readonly lastPosition: string | null
  readonly pending: number | null
  readonly ackPending: number | null
  readonly lagSeconds: number | null
  readonly parkedStreams: number
  readonly parked: ReadonlyArray<{ readonly stream: string; readonly messageId: string; readonly error: string }>
}

const call = (url: string, method: "GET" | "POST", body?: unknown, token = ADMIN) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      signal: AbortSignal.timeout(10_000),
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    // oxlint-disable-next-line typescript/no-explicit-any -- response bodies are probed field by field
    return { status: response.status, body: (await response.json()) as any }
  })

const fraudWatch = (url: string) =>
  Effect.map(call(`${url}/inboxes`, "GET", undefined, READER), (r) => (r.body as ReadonlyArray<InboxStatus>).find((i) => i.name === "fraud_watch"))

const environment = (databaseUrl: string, nats: Record<string, string>) => ({
  DATABASE_URL: databaseUrl,
  VERITY_MASTER_KEYS: MasterKeys.generate("ib1"),
  VERITY_API_TOKENS: `ops:${ADMIN}:read,write,admin;viewer:${READER}:read`,
  // Two withdrawals of at least 100 within the hour flag the account.
  VERITY_FRAUD_WATCH_MIN_AMOUNT: "100",
  VERITY_FRAUD_WATCH_MAX_WITHDRAWALS: "1",
  ...nats
})

const flags = (url: string) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const present = yield* sql<{ readonly ok: boolean }>`SELECT to_regclass('fraud_watch.flags') IS NOT NULL AS ok`
    if (present[0]?.ok !== true) return []
    return yield* sql<{ readonly account_id: string; readonly withdrawals: number }>`SELECT account_id, withdrawals FROM fraud_watch.flags`
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)

forEachDatabase((target) => {
  describe("inbox in the API", () => {
    for (const mode of ["worker", "inline"] as const) {
      it.live(
        `${mode}: fraud_watch handles the published withdrawals; a poison message parks and is released over HTTP`,
        () =>
          Effect.gen(function*() {
            const id = unique()
            const stream = `IBX_${id}`
            const prefix = `ibx${id}`
            yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
            const databaseUrl = yield* TestDatabase.freshDatabaseUrl(target)
            const env = environment(databaseUrl, {
              NATS_URL: SHARED_NATS,
              VERITY_RELAY_STREAM: stream,
              VERITY_RELAY_PREFIX: prefix,
              VERITY_PROJECTIONS: mode
            })
            const server = yield* Effect.acquireRelease(Effect.promise(() => ServerProcess.start(env)), (s) => Effect.promise(() => s.stop()))

            const opened = yield* call(`${server.url}/accounts`, "POST", { holderName: "Ada", holderEmail: "ada@example.com", currency: "EUR" })
            assert.strictEqual(opened.status, 201, JSON.stringify(opened.body))
            const accountId = opened.body.accountId as string
            assert.strictEqual((yield* call(`${server.url}/accounts/${accountId}/deposits`, "POST", { amount: 10_000 })).status, 200)
            for (const amount of [500, 700]) {
              const withdrawn = yield* call(`${server.url}/accounts/${accountId}/withdrawals`, "POST", { amount })
              assert.strictEqual(withdrawn.status, 200, JSON.stringify(withdrawn.body))
            }

            // Opened, deposited, withdrawn twice: four messages handled, nothing pending, the account flagged.
            const handled = yield* eventually(
              "fraud_watch handled the four messages",
              fraudWatch(server.url),
              (s) => s?.handled === 4 && s.pending === 0 && s.ackPending === 0,
              { timeout: "60 seconds", interval: "100 millis" }
            )
            assert.strictEqual(handled?.state, "live")
            assert.strictEqual(handled?.stream, stream)
            assert.strictEqual(handled?.filterSubject, `${prefix}.account.>`)
            assert.strictEqual(handled?.lagSeconds, 0)
            assert.strictEqual(handled?.parkedStreams, 0)
            assert.match(handled?.lastPosition ?? "", /^\d+$/)
            assert.isAtLeast(handled?.lastSeq ?? 0, 4)
            assert.deepStrictEqual(yield* flags(databaseUrl), [{ account_id: accountId, withdrawals: 2 }])

            // A message on the account subjects that the contract cannot decode parks its stream.
            const poisonStream = `account-${crypto.randomUUID()}`
            const sink = yield* JetStreamSink.make({ servers: SHARED_NATS, stream, prefix })
            const poisonId = crypto.randomUUID()
            yield* sink.publish([{
              subject: "account.MoneyWithdrawn",
              id: poisonId,
              headers: { [Relay.Headers.eventId]: poisonId, [Relay.Headers.stream]: poisonStream, [Relay.Headers.position]: "999999" },
              payload: new TextEncoder().encode(JSON.stringify({ type: "MoneyWithdrawn", version: 1, data: { nonsense: true } }))
            }])
            const parked = yield* eventually("the poison message parked its stream", fraudWatch(server.url), (s) => s?.parkedStreams === 1, {
              timeout: "60 seconds",
              interval: "100 millis"
            })
            assert.strictEqual(parked?.state, "parked")
            assert.strictEqual(parked?.parked[0]?.stream, poisonStream)
            assert.strictEqual(parked?.parked[0]?.messageId, poisonId)
            const list = yield* call(`${server.url}/inboxes/fraud_watch/parked`, "GET", undefined, READER)
            assert.strictEqual(list.status, 200)
            assert.strictEqual(list.body[0].stream, poisonStream)

            const path = `${server.url}/inboxes/fraud_watch/parked/${encodeURIComponent(poisonStream)}`
            assert.strictEqual((yield* call(`${path}/skip`, "POST", undefined, READER)).status, 403, "release needs scope admin")
            const retried = yield* call(`${path}/retry`, "POST")
            assert.strictEqual(retried.status, 200, JSON.stringify(retried.body))
            assert.isFalse(retried.body.resumed, "the message still does not decode")
            const skipped = yield* call(`${path}/skip`, "POST")
            assert.strictEqual(skipped.status, 200, JSON.stringify(skipped.body))
            assert.deepStrictEqual(skipped.body, { resumed: true, applied: 0, skipped: 1 })
            assert.strictEqual((yield* call(`${path}/retry`, "POST")).status, 404, "no longer parked")
            assert.strictEqual((yield* call(`${server.url}/inboxes/nope/parked`, "GET")).status, 404, "unknown inbox")
            const after = yield* fraudWatch(server.url)
            assert.strictEqual(after?.parkedStreams, 0)
            assert.strictEqual(after?.state, "live")
          }).pipe(Effect.scoped),
        { timeout: 180_000 }
      )
    }

    it.live("without NATS_URL: no inbox", () =>
      Effect.gen(function*() {
        const env = environment(yield* TestDatabase.freshDatabaseUrl(target), { NATS_URL: "" })
        const server = yield* Effect.acquireRelease(Effect.promise(() => ServerProcess.start(env)), (s) => Effect.promise(() => s.stop()))
        const inboxes = yield* call(`${server.url}/inboxes`, "GET", undefined, READER)
        assert.strictEqual(inboxes.status, 200)
        assert.deepStrictEqual(inboxes.body, [])
        assert.strictEqual((yield* call(`${server.url}/inboxes/fraud_watch/parked`, "GET")).status, 404)
      }).pipe(Effect.scoped), { timeout: 120_000 })
  })
})
