/**
 * Black-box runs of the real server (`node src/main.ts` as a child process), driven over HTTP with fetch:
 * on an empty data folder with its own embedded PostgreSQL (no DATABASE_URL, development token and master
 * key generated), and on a fresh database of each test target (DATABASE_URL, configured tokens and keys).
 * Each run opens accounts, deposits with an Idempotency-Key, transfers, stops the server with SIGTERM
 * (exit code 0) while an event feed is open (it ends cleanly at once, so the stop does not wait for the
 * graceful timeout), starts it again and finds everything there, including the recorded idempotent
 * response, and the feed resumes after its last event.
 */
import { assert, describe, it } from "@effect/vitest"
import { MasterKeys } from "@verity/eventstore"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ServerProcess from "./support/ServerProcess.ts"
import * as Sse from "./support/SseClient.ts"
import { send } from "./support/TestApi.ts"

/** The scenario against a running server, then a restart and the checks after it. */
const scenario = async (launch: () => Promise<ServerProcess.RunningServer>, tokenOf: (s: ServerProcess.RunningServer) => string) => {
  const first = await launch()
  let second: ServerProcess.RunningServer | undefined
  try {
    const token = tokenOf(first)
    const call = (method: string, path: string, json?: unknown, headers?: Record<string, string>) =>
      send(first.url + path, method, { token, ...(json === undefined ? {} : { json }), ...(headers ? { headers } : {}) })
    const a = await call("POST", "/accounts", { holderName: "Black Box", holderEmail: "bb@example.com", currency: "EUR" })
    assert.strictEqual(a.status, 201, a.text)
    const b = await call("POST", "/accounts", { holderName: "Other Box", holderEmail: "ob@example.com", currency: "EUR" })
    const from = a.body.accountId as string
    const to = b.body.accountId as string
    const deposit = await call("POST", `/accounts/${from}/deposits`, { amount: 1000 }, { "idempotency-key": "bb-dep-1" })
    assert.strictEqual(deposit.status, 200, deposit.text)
    const transfer = await call("POST", "/transfers", { fromAccountId: from, toAccountId: to, amount: 250 })
    assert.strictEqual(transfer.status, 202, transfer.text)
    let status = ""
    for (let i = 0; i < 100 && status !== "Completed"; i++) {
      status = (await call("GET", `/transfers/${transfer.body.transferId}`)).body.state.status
      if (status !== "Completed") await new Promise((r) => setTimeout(r, 100))
    }
    assert.strictEqual(status, "Completed")
    const summary = await call("GET", `/accounts/${to}?waitForPosition=${deposit.body.position}`)
    assert.strictEqual(summary.status, 200)

    // An open event feed: SIGTERM ends it cleanly instead of holding the shutdown for its 10 s timeout.
    const feed = await Sse.connect(`${first.url}/events`, { token })
    assert.strictEqual(feed.status, 200, feed.text)
    let opened = await feed.next()
    while (opened !== undefined && opened.id === undefined) opened = await feed.next()
    assert.strictEqual(opened?.event, "AccountOpened")
    const stopping = performance.now()
    assert.strictEqual(await first.stop(), 0, `clean exit on SIGTERM\n${first.output()}`)
    assert.isBelow(performance.now() - stopping, 8_000, "the open feed did not hold the shutdown")
    while ((await feed.next()) !== undefined) {
      // The rest of what the feed had sent before the server stopped.
    }
    assert.isFalse(feed.aborted(), "the feed ended cleanly")

    second = await launch()
    const token2 = tokenOf(second)
    const again = (method: string, path: string, json?: unknown, headers?: Record<string, string>) =>
      send(second!.url + path, method, { token: token2, ...(json === undefined ? {} : { json }), ...(headers ? { headers } : {}) })
    const fromState = await again("GET", `/accounts/${from}/state`)
    const toState = await again("GET", `/accounts/${to}/state`)
    assert.strictEqual(fromState.body.state.balance, 750)
    assert.strictEqual(toState.body.state.balance, 250)
    assert.strictEqual(fromState.body.state.holderName, "Black Box", "personal data still readable after a restart")
    const list = await again("GET", "/accounts?limit=10")
    assert.includeMembers(list.body.items.map((x: { accountId: string }) => x.accountId), [from, to])
    // The idempotent response survived the restart: replayed, not decided again.
    const replay = await again("POST", `/accounts/${from}/deposits`, { amount: 1000 }, { "idempotency-key": "bb-dep-1" })
    assert.strictEqual(replay.headers.get("idempotent-replayed"), "true")
    assert.deepStrictEqual(replay.body, deposit.body)
    assert.strictEqual((await again("GET", `/accounts/${from}/state`)).body.state.balance, 750)
    // The feed resumes after the event it had seen: the second opening is next.
    const resumed = await Sse.connect(`${second.url}/events`, { token: token2, headers: { "last-event-id": opened!.id! } })
    let next = await resumed.next()
    while (next !== undefined && next.id === undefined) next = await resumed.next()
    assert.strictEqual(JSON.parse(next!.data!).streamId, `account-${to}`)
    resumed.close()
    assert.strictEqual(await second.stop(), 0, `clean exit on SIGTERM\n${second.output()}`)
  } finally {
    await first.stop().catch(() => undefined)
    if (second !== undefined) await second.stop().catch(() => undefined)
  }
}

describe("real server on its own embedded PostgreSQL", () => {
  it.live("empty data folder: starts, serves, stops cleanly, keeps its data", () =>
    Effect.promise(async () => {
      const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "verity-api-blackbox-"))
      // PostgreSQL runs as its own user (the server refuses root): it must be able to reach its folder.
      await Fs.chmod(dir, 0o755)
      try {
        await scenario(
          () => ServerProcess.start({ VERITY_DATA_DIR: Path.join(dir, "postgres") }),
          (server) => {
            assert.isString(server.devToken, "a development token is printed")
            assert.include(server.output(), "DEVELOPMENT ONLY")
            assert.include(server.output(), "/docs")
            return server.devToken!
          }
        )
      } finally {
        await Fs.rm(dir, { recursive: true, force: true })
      }
    }), { timeout: 180_000 })
})

forEachDatabase((target) => {
  describe("real server on DATABASE_URL", () => {
    it.live("a fresh database: configured tokens and keys, restart keeps everything", () =>
      Effect.gen(function*() {
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const env = {
          DATABASE_URL: url,
          VERITY_MASTER_KEYS: MasterKeys.generate("bb1"),
          VERITY_API_TOKENS: "bb:blackbox-token-0123456789:read,write,admin"
        }
        yield* Effect.promise(() =>
          scenario(async () => {
            const server = await ServerProcess.start(env)
            assert.isUndefined(server.devToken, "no development token when tokens are configured")
            return server
          }, () => "blackbox-token-0123456789")
        )
      }).pipe(Effect.scoped), { timeout: 180_000 })
  })
})
