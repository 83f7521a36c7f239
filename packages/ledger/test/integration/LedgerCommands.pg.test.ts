/**
 * The ledger's commands over NATS (the machine's NATS, a prefix per run): an account opened over the
 * account subject is stored (its holder encrypted like any other), the account's rejections come back as
 * their classes, the transfer steps are refused, and a transfer is requested over the transfer subject.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@nats-io/transport-node"
import { Account, Timestamp, Transfer } from "@verity/domain"
import { MasterKeys } from "@verity/eventstore"
import { CommandClient, CommandReply, CommandService } from "@verity/integration"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import * as LedgerCommands from "../../src/integration/LedgerCommands.ts"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"
import { Accounts } from "../../src/Streams.ts"

const NATS_URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222"
const TOKEN = "ledger-writer-token-0123"
const prefix = `lc${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`

const runtime = LedgerRuntime.layerWithoutDatabase({ projections: [] }).pipe(
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ VERITY_MASTER_KEYS: MasterKeys.generate("k1") })))
)

const connection = Effect.acquireRelease(Effect.promise(() => connect({ servers: NATS_URL })), (nc) => Effect.promise(() => nc.close()))

forEachDatabase((target) => {
  describe("ledger commands over NATS", () => {
    it.live("opens an account, answers typed rejections, refuses transfer steps, requests a transfer", () =>
      Effect.scoped(
        Effect.gen(function*() {
          yield* CommandService.serve(yield* connection, {
            prefix,
            routes: LedgerCommands.routes,
            authorize: (token) => token === TOKEN ? Option.some({ name: "svc", scopes: new Set(["write"]) }) : Option.none()
          })
          const nc = yield* connection
          const accounts = CommandReply.subjectOf(prefix, "account")
          const at = Timestamp.fromEpochMillis(1_700_000_000_000)
          const [a, b] = [crypto.randomUUID(), crypto.randomUUID()]
          for (const accountId of [a, b]) {
            const opened = yield* CommandClient.send(nc, accounts, {
              _tag: "OpenAccount",
              accountId,
              holderName: "Ada",
              holderEmail: "ada@example.com",
              currency: "EUR",
              at
            }, { token: TOKEN })
            assert.strictEqual(opened.version, 1)
          }
          const loaded = yield* Accounts.load(a)
          assert.strictEqual(loaded.state.status, "Open")
          assert.strictEqual(loaded.state.status === "Open" ? String(loaded.state.holderName) : "", "Ada")

          const withdraw = { _tag: "Withdraw", accountId: a, amount: 5, currency: "EUR", at } as const
          const rejected = yield* CommandClient.send(nc, accounts, withdraw, { token: TOKEN, rejection: Account.AccountRejection }).pipe(
            Effect.flip
          )
          assert.instanceOf(rejected, Account.InsufficientFunds)

          const step = { _tag: "SettleTransfer", accountId: a, transferId: crypto.randomUUID(), at } as const
          const refused = yield* CommandClient.send(nc, accounts, step, { token: TOKEN }).pipe(Effect.flip)
          assert.strictEqual(refused._tag, "InvalidCommand")

          yield* CommandClient.send(nc, accounts, { _tag: "Deposit", accountId: a, amount: 10, currency: "EUR", at }, { token: TOKEN })
          const requested = yield* CommandClient.send(nc, CommandReply.subjectOf(prefix, "transfer"), {
            _tag: "RequestTransfer",
            transferId: crypto.randomUUID(),
            fromAccountId: a,
            toAccountId: b,
            amount: 4,
            currency: "EUR",
            at
          }, { token: TOKEN, rejection: Transfer.TransferRejection })
          assert.strictEqual(requested.version, 1)
        }).pipe(Effect.provide(runtime.pipe(Layer.provideMerge(TestDatabase.layer(target)))))
      ), 60_000)
  })
})
