/**
 * The README's walkthrough "Integration: events out to NATS JetStream", step by step, against a real API
 * process and the machine's NATS: the API with `NATS_URL` (its worker thread runs the relay), an account
 * opened and credited over HTTP, then `node packages/integration/examples/subscribe.ts --limit 2` run as a
 * process from the repository root, whose output lists both relayed events in order; `/ready` reports the
 * broker. The only difference from the README: the test's own stream and prefix
 * (`VERITY_RELAY_STREAM`, `VERITY_RELAY_PREFIX`) instead of the defaults, for isolation.
 */
import { assert, describe, it } from "@effect/vitest"
import { MasterKeys } from "@verity/eventstore"
import { countMessages, deleteStream, SHARED_NATS, unique } from "@verity/integration/testing"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as ServerProcess from "./support/ServerProcess.ts"

const TOKEN = "walkthrough-token-0123456789"
const REPO = fileURLToPath(new URL("../../..", import.meta.url))
/** The Node 22 the repository installs (the README's commands name it: the machine's `node` may be older). */
const NODE = "node_modules/.bin/node"

const call = (url: string, method: "GET" | "POST", body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      signal: AbortSignal.timeout(10_000),
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    // oxlint-disable-next-line typescript/no-explicit-any -- response bodies are probed field by field
    return { status: response.status, body: (await response.json()) as any }
  })

/** `node packages/integration/examples/subscribe.ts <args>` from the repository root. */
const subscribe = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(() =>
    new Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resolve) => {
      execFile(NODE, ["packages/integration/examples/subscribe.ts", ...args], {
        cwd: REPO,
        env: { ...ServerProcess.cleanEnv(), ...env },
        timeout: 30_000
      }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }))
    })
  )

forEachDatabase((target) => {
  describe("README walkthrough: events out to NATS JetStream", () => {
    it.live("the subscriber example lists the events the API's relay published", () =>
      Effect.gen(function*() {
        const id = unique()
        const stream = `WALK_${id}`
        const prefix = `walk${id}`
        yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
        const relayEnv = { NATS_URL: SHARED_NATS, VERITY_RELAY_STREAM: stream, VERITY_RELAY_PREFIX: prefix }
        const env = {
          DATABASE_URL: yield* TestDatabase.freshDatabaseUrl(target),
          VERITY_MASTER_KEYS: MasterKeys.generate("wk1"),
          VERITY_API_TOKENS: `ops:${TOKEN}:read,write,admin`,
          ...relayEnv
        }
        const server = yield* Effect.acquireRelease(Effect.promise(() => ServerProcess.start(env)), (s) => Effect.promise(() => s.stop()))

        const opened = yield* call(`${server.url}/accounts`, "POST", { holderName: "Ada Lovelace", holderEmail: "ada@example.com", currency: "EUR" })
        assert.strictEqual(opened.status, 201, JSON.stringify(opened.body))
        const accountId = opened.body.accountId as string
        const deposited = yield* call(`${server.url}/accounts/${accountId}/deposits`, "POST", { amount: 1250 })
        assert.strictEqual(deposited.status, 200, JSON.stringify(deposited.body))

        // The relay creates the stream on its first publish: the subscriber reads it once it exists.
        yield* eventually("both events relayed", countMessages(SHARED_NATS, stream), (n) => n >= 2, { timeout: "60 seconds", interval: "50 millis" })
        const run = yield* subscribe(["--limit", "2"], relayEnv)
        assert.strictEqual(run.code, 0, run.stderr)
        const lines = run.stdout.trim().split("\n")
        assert.strictEqual(lines.length, 2, run.stdout)
        assert.match(
          lines[0]!,
          new RegExp(`^1 ${prefix}\\.account\\.AccountOpened account-${accountId}@1 AccountOpened v1 \\{"accountId":"${accountId}","currency":"EUR",`)
        )
        assert.match(
          lines[1]!,
          new RegExp(
            `^2 ${prefix}\\.account\\.MoneyDeposited account-${accountId}@2 MoneyDeposited v1 \\{"accountId":"${accountId}","amount":1250,"currency":"EUR",`
          )
        )
        assert.notInclude(run.stdout, "Ada Lovelace")

        const ready = yield* call(`${server.url}/ready`, "GET")
        assert.deepStrictEqual(ready.body.checks.broker, { status: "ok" })
      }).pipe(Effect.scoped), { timeout: 180_000 })
  })
})
