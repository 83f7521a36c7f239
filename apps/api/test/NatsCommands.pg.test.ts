/**
 * The API process with `NATS_URL` set serves the ledger's commands over NATS request/reply, black-box (a
 * real process) against the machine's NATS: a deposit sent with `CommandClient` and a valid token gets the
 * typed result and shows in `GET /accounts/:id`; a missing token is `Unauthorized`, a read-only token
 * `Forbidden`, an overdraft the domain's `InsufficientFunds`, and none of them changes the balance. The
 * README's example (examples/command.ts, the stand-in for `nats req`) runs as a process against the same
 * service: the reply as on the wire, a retry with the key answering the original result.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { Account } from "@verity/domain"
import { MasterKeys } from "@verity/eventstore"
import { CommandClient } from "@verity/integration"
import { deleteStream, SHARED_NATS, unique } from "@verity/integration/testing"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Schedule, Schema } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as ServerProcess from "./support/ServerProcess.ts"

const TOKEN = "nats-writer-token-0123456789"
const READER = "nats-reader-token-0123456789"
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

/** The README's command example as a process from the repository root: exit code and stdout. */
const example = (args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resolve) => {
      execFile(NODE, ["packages/integration/examples/command.ts", ...args], {
        cwd: REPO,
        env: { ...ServerProcess.cleanEnv(), NATS_URL: SHARED_NATS },
        timeout: 30_000
      }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }))
    })
  )

const deposit = (accountId: string, amount: number) =>
  Schema.decodeUnknownSync(Account.Deposit)({ _tag: "Deposit", accountId, amount, currency: "EUR", at: Date.now() })

/** Sends `command` once the API's service has subscribed (it connects in the background after start). */
const send = <C extends { readonly _tag: string }>(nc: NatsConnection, subject: string, command: C, token: string) =>
  CommandClient.send(nc, subject, command, { token, rejection: Account.AccountRejection }).pipe(
    Effect.retry({
      while: (e) => e._tag === "CommandClientError" && e.reason === "NoResponders",
      schedule: Schedule.spaced("100 millis"),
      times: 300
    })
  )

const withdraw = (accountId: string, amount: number) =>
  Schema.decodeUnknownSync(Account.Withdraw)({ _tag: "Withdraw", accountId, amount, currency: "EUR", at: Date.now() })

forEachDatabase((target) => {
  describe("commands over NATS in the API", () => {
    it.live(
      "a deposit over NATS with a token is applied and visible over HTTP; missing or weak tokens are typed refusals",
      () =>
        Effect.gen(function*() {
          const id = unique()
          const prefix = `cmd${id}`
          const stream = `APICMD_${id}`
          yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
          const env = {
            DATABASE_URL: yield* TestDatabase.freshDatabaseUrl(target),
            VERITY_MASTER_KEYS: MasterKeys.generate("nc1"),
            VERITY_API_TOKENS: `ops:${TOKEN}:read,write,admin;viewer:${READER}:read`,
            NATS_URL: SHARED_NATS,
            VERITY_COMMANDS_PREFIX: prefix,
            VERITY_RELAY_STREAM: stream,
            VERITY_RELAY_PREFIX: `rel${id}`
          }
          const server = yield* Effect.acquireRelease(Effect.promise(() => ServerProcess.start(env)), (s) => Effect.promise(() => s.stop()))
          const nc = yield* Effect.acquireRelease(Effect.promise(() => connect({ servers: SHARED_NATS })), (c) => Effect.promise(() => c.close()))
          const subject = `${prefix}.commands.account`
          const balance = (accountId: string, position: string) =>
            Effect.map(call(`${server.url}/accounts/${accountId}?waitForPosition=${position}`, "GET"), (r) => r.body.balance as number)

          const opened = yield* call(`${server.url}/accounts`, "POST", {
            holderName: "Ada Lovelace",
            holderEmail: "ada@example.com",
            currency: "EUR"
          })
          assert.strictEqual(opened.status, 201, JSON.stringify(opened.body))
          const accountId = opened.body.accountId as string

          const result = yield* send(nc, subject, deposit(accountId, 2500), TOKEN)
          assert.strictEqual(result.version, 2)
          assert.strictEqual(result.positions.length, 1)
          assert.strictEqual(yield* balance(accountId, result.positions[0]!), 2500)

          const anonymous = yield* send(nc, subject, deposit(accountId, 1), "").pipe(Effect.flip)
          assert.strictEqual(anonymous._tag, "Unauthorized")
          const viewer = yield* send(nc, subject, deposit(accountId, 1), READER).pipe(Effect.flip)
          assert.deepInclude(viewer, { _tag: "Forbidden", requiredScope: "write" })
          const overdraft = yield* send(
            nc,
            subject,
            withdraw(accountId, 999_999),
            TOKEN
          )
            .pipe(Effect.flip)
          assert.instanceOf(overdraft, Account.InsufficientFunds)

          // The README's example, as a process: the reply as on the wire; the retry answers the original.
          const payload = JSON.stringify({ _tag: "Deposit", accountId, amount: 100, currency: "EUR", at: Date.now() })
          const first = yield* example([subject, payload, "--token", TOKEN, "--idempotency-key", "dep-42"])
          assert.strictEqual(first.code, 0, first.stderr)
          const reply = JSON.parse(first.stdout)
          assert.deepInclude(reply, { ok: true })
          assert.strictEqual(reply.result.version, 3)
          const again = yield* example([subject, payload, "--token", TOKEN, "--idempotency-key", "dep-42"])
          assert.strictEqual(again.code, 0, again.stderr)
          assert.deepStrictEqual(JSON.parse(again.stdout).result.positions, reply.result.positions)
          const refused = yield* example([subject, payload])
          assert.strictEqual(refused.code, 1, refused.stderr)
          assert.strictEqual(JSON.parse(refused.stdout).error._tag, "Unauthorized")

          assert.strictEqual(yield* balance(accountId, reply.result.positions[0]), 2600)
        }).pipe(Effect.scoped),
      { timeout: 180_000 }
    )
  })
})
