/**
 * `replayer relay` as a real child process against the machine's NATS JetStream: it publishes the history
 * and what is appended while it runs, as the ledger's published events, and stops cleanly on SIGTERM;
 * with `AMQP_URL` alone it publishes to RabbitMQ (a queue bound to the exchange gets each event once,
 * persistent, message id = event id); without a broker URL it is a usage error (exit 2) and touches no
 * database.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Account } from "@verity/domain"
import { EventStore, MasterKeys } from "@verity/eventstore"
import {
  bindAmqpQueue,
  countAmqpMessages,
  countMessages,
  deleteStream,
  drainAmqpQueue,
  readStream,
  SHARED_AMQP,
  SHARED_NATS,
  unique
} from "@verity/integration/testing"
import { LedgerRuntime, LedgerStreams } from "@verity/ledger"
import { eventually, forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Effect, Layer, Redacted, Schema } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

// The ledger runtime in this test process reads its master keys from the environment, like the replayer.
const keys = MasterKeys.generate("rk1")
process.env["VERITY_MASTER_KEYS"] = keys

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** The replayer as a child process: its output so far, a signal to send, and how it exited. */
const launch = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      let stdout = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk
        stdout += chunk
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
      const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
      return { child, output: () => output, stdout: () => stdout, exited: Effect.promise(() => exited) }
    }),
    ({ child, exited }) => (child.exitCode === null && child.signalCode === null
      ? Effect.sync(() => child.kill("SIGKILL")).pipe(Effect.andThen(exited))
      : Effect.void)
  )

const open = (holderName: string, holderEmail: string) => {
  const accountId = crypto.randomUUID()
  return LedgerStreams.Accounts.handle(
    accountId,
    Schema.decodeUnknownSync(Account.OpenAccount)({ _tag: "OpenAccount", accountId, holderName, holderEmail, currency: "EUR", at: Date.now() })
  ).pipe(Effect.as(accountId))
}

const deposit = (accountId: string, amount: number) =>
  LedgerStreams.Accounts.handle(
    accountId,
    Schema.decodeUnknownSync(Account.Deposit)({ _tag: "Deposit", accountId, amount, currency: "EUR", at: Date.now() })
  )

const withdraw = (accountId: string, amount: number) =>
  LedgerStreams.Accounts.handle(
    accountId,
    Schema.decodeUnknownSync(Account.Withdraw)({ _tag: "Withdraw", accountId, amount, currency: "EUR", at: Date.now() })
  )

describe("replayer relay", () => {
  it.live("without NATS_URL: a usage error (exit 2) naming NATS_URL", () =>
    Effect.gen(function*() {
      const run = yield* launch(["relay"], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", NATS_URL: "", AMQP_URL: "" })
      const exit = yield* run.exited
      assert.strictEqual(exit.code, 2, run.output())
      assert.include(run.output(), "needs NATS_URL")
    }).pipe(Effect.scoped), 60_000)

  it.live("--only inbox with the inboxes off: a usage error (exit 2) naming VERITY_INBOX", () =>
    Effect.gen(function*() {
      const run = yield* launch(["relay", "--only", "inbox"], {
        DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
        NATS_URL: "nats://127.0.0.1:1",
        VERITY_INBOX: "off",
        AMQP_URL: ""
      })
      const exit = yield* run.exited
      assert.strictEqual(exit.code, 2, run.output())
      assert.include(run.output(), "VERITY_INBOX")
    }).pipe(Effect.scoped), 60_000)
})

forEachDatabase((target) => {
  describe("replayer relay", () => {
    it.live("publishes the history and what is appended while it runs, then stops cleanly on SIGTERM", () =>
      Effect.gen(function*() {
        const id = unique()
        const stream = `REPLAYER_${id}`
        const prefix = `rp${id}`
        yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        // This side writes through the ledger's store; it runs no projection and no relay.
        const ledger = LedgerRuntime.layerWithoutDatabase({ projections: [], runProjections: false }).pipe(
          Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }))
        )
        yield* Effect.gen(function*() {
          const before = yield* open("Grace Hopper", "grace@example.org")
          yield* deposit(before, 10)

          const relay = yield* launch(["relay", "--status-every", "0"], {
            DATABASE_URL: url,
            VERITY_MASTER_KEYS: keys,
            NATS_URL: SHARED_NATS,
            AMQP_URL: "",
            VERITY_RELAY_STREAM: stream,
            VERITY_RELAY_PREFIX: prefix
          })
          yield* eventually("the history published", countMessages(SHARED_NATS, stream), (n) => n === 2, {
            timeout: "60 seconds",
            interval: "50 millis"
          })
          const meanwhile = yield* open("Alan Turing", "alan@example.org")
          yield* deposit(meanwhile, 20)
          yield* deposit(before, 30)
          yield* eventually("what was appended meanwhile published", countMessages(SHARED_NATS, stream), (n) => n === 5, {
            timeout: "30 seconds",
            interval: "50 millis"
          })

          relay.child.kill("SIGTERM")
          const exit = yield* relay.exited
          assert.strictEqual(exit.code, 130, relay.output())
          assert.include(relay.output(), "relaying")
          assert.notMatch(relay.output(), /error/i)

          const messages = yield* readStream(SHARED_NATS, stream)
          assert.deepStrictEqual(messages.map((m) => `${m.subject} ${m.headers["verity-stream"]}`), [
            `${prefix}.account.AccountOpened account-${before}`,
            `${prefix}.account.MoneyDeposited account-${before}`,
            `${prefix}.account.AccountOpened account-${meanwhile}`,
            `${prefix}.account.MoneyDeposited account-${meanwhile}`,
            `${prefix}.account.MoneyDeposited account-${before}`
          ])
          assert.deepStrictEqual(messages.map((m) => (m.payload as { data: { amount?: number } }).data.amount), [undefined, 10, undefined, 20, 30])
          for (const m of messages) {
            for (const personal of ["Grace Hopper", "grace@example.org", "Alan Turing", "alan@example.org"]) assert.notInclude(m.text, personal)
          }
        }).pipe(Effect.provide(ledger))
      }).pipe(Effect.scoped), 180_000)

    it.live("runs the fraud_watch inbox next to the relay; replayer status and inboxes show it", () =>
      Effect.gen(function*() {
        const id = unique()
        const stream = `REPLAYER_IN_${id}`
        const prefix = `ri${id}`
        yield* Effect.addFinalizer(() => deleteStream(SHARED_NATS, stream))
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const client = PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })
        const ledger = LedgerRuntime.layerWithoutDatabase({ projections: [], runProjections: false }).pipe(Layer.provideMerge(client))
        const env = {
          DATABASE_URL: url,
          VERITY_MASTER_KEYS: keys,
          NATS_URL: SHARED_NATS,
          AMQP_URL: "",
          VERITY_RELAY_STREAM: stream,
          VERITY_RELAY_PREFIX: prefix,
          VERITY_FRAUD_WATCH_MIN_AMOUNT: "5"
        }
        const withdrawals = Effect.gen(function*() {
          const sql = yield* PgClient.PgClient
          const [present] = yield* sql<{ readonly ok: boolean }>`SELECT to_regclass('fraud_watch.withdrawals') IS NOT NULL AS ok`
          if (present?.ok !== true) return []
          return yield* sql<{ readonly amount: string }>`SELECT amount::text FROM fraud_watch.withdrawals ORDER BY amount`
        }).pipe(Effect.orDie)
        /** A replayer command run to its end: exit code and output. */
        const once = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
          Effect.gen(function*() {
            const run = yield* launch(args, { ...env, ...extra })
            const exit = yield* run.exited
            return { code: exit.code, output: run.output(), stdout: run.stdout() }
          }).pipe(Effect.scoped)

        yield* Effect.gen(function*() {
          const account = yield* open("Grace Hopper", "grace@example.org")
          yield* deposit(account, 100)
          yield* withdraw(account, 3)
          yield* withdraw(account, 40)

          const relay = yield* launch(["relay", "--status-every", "0"], env)
          // Only the withdrawal of at least 5 counts: fraud_watch was fed through the broker.
          const rows = yield* eventually("fraud_watch filled from the published events", withdrawals, (r) => r.length === 1, {
            timeout: "60 seconds",
            interval: "100 millis"
          })
          assert.deepStrictEqual(rows.map((r) => r.amount), ["40"])
          assert.include(relay.output(), "inbox fraud_watch")

          // Status from another process, while the relay process runs the inbox.
          const json = yield* eventually(
            "replayer inboxes reports fraud_watch caught up",
            Effect.map(once(["inboxes", "--json"]), (r) => {
              const reports = r.code === 0 ? JSON.parse(r.stdout) as ReadonlyArray<Record<string, unknown>> : []
              return reports.find((i) => i["name"] === "fraud_watch")
            }),
            (i) => i?.["handled"] === 4 && i["pending"] === 0,
            { timeout: "60 seconds", interval: "200 millis" }
          )
          assert.strictEqual(json?.["state"], "live")
          assert.strictEqual(json?.["filterSubject"], `${prefix}.account.>`)
          const table = yield* once(["status"])
          assert.strictEqual(table.code, 0, table.output)
          assert.match(table.output, /INBOX\s+STATE\s+HANDLED/)
          assert.match(table.output, /fraud_watch\s+live\s+4\s/)
          const parked = yield* once(["parked", "fraud_watch"])
          assert.include(parked.output, "fraud_watch: no parked streams")
          // Without NATS_URL the replayer knows no inbox.
          const plain = yield* once(["status"], { NATS_URL: "" })
          assert.strictEqual(plain.code, 0, plain.output)
          assert.notInclude(plain.output, "INBOX")

          relay.child.kill("SIGTERM")
          const exit = yield* relay.exited
          assert.strictEqual(exit.code, 130, relay.output())
        }).pipe(Effect.provide(ledger))
      }).pipe(Effect.scoped), 180_000)

    it.live("with AMQP_URL alone: publishes to the exchange, persistent, message id = event id; SIGTERM stops it", () =>
      Effect.gen(function*() {
        const id = unique()
        const exchange = `replayer.${id}`
        const queue = `replayer.${id}.all`
        const prefix = `rp${id}`
        yield* bindAmqpQueue(SHARED_AMQP, exchange, queue, prefix)
        const url = yield* TestDatabase.freshDatabaseUrl(target)
        const ledger = LedgerRuntime.layerWithoutDatabase({ projections: [], runProjections: false }).pipe(
          Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }))
        )
        yield* Effect.gen(function*() {
          const accountId = yield* open("Grace Hopper", "grace@example.org")
          yield* deposit(accountId, 10)

          const relay = yield* launch(["relay", "--status-every", "0"], {
            DATABASE_URL: url,
            VERITY_MASTER_KEYS: keys,
            NATS_URL: "",
            AMQP_URL: SHARED_AMQP,
            VERITY_RELAY_EXCHANGE: exchange,
            VERITY_RELAY_PREFIX: prefix
          })
          yield* eventually("the history published", countAmqpMessages(SHARED_AMQP, queue), (n) => n === 2, {
            timeout: "60 seconds",
            interval: "50 millis"
          })
          yield* deposit(accountId, 20)
          yield* eventually("the deposit appended meanwhile published", countAmqpMessages(SHARED_AMQP, queue), (n) => n === 3, {
            timeout: "30 seconds",
            interval: "50 millis"
          })

          relay.child.kill("SIGTERM")
          const exit = yield* relay.exited
          // SIGTERM is an interruption: the documented exit code is 130, after every finalizer ran.
          assert.strictEqual(exit.code, 130, relay.output())
          assert.include(relay.output(), "relaying")
          assert.notMatch(relay.output(), /error/i)

          const stored = yield* (yield* EventStore).readStream(`account-${accountId}`)
          const messages = yield* drainAmqpQueue(SHARED_AMQP, queue)
          assert.deepStrictEqual(messages.map((m) => m.routingKey), [
            `${prefix}.account.AccountOpened`,
            `${prefix}.account.MoneyDeposited`,
            `${prefix}.account.MoneyDeposited`
          ])
          assert.deepStrictEqual(messages.map((m) => m.messageId), stored.map((e) => e.eventId))
          for (const m of messages) {
            assert.strictEqual(m.deliveryMode, 2, "persistent")
            assert.strictEqual(m.contentType, "application/json")
            assert.strictEqual(m.headers["verity-event-id"], m.messageId)
            assert.strictEqual(m.headers["verity-stream"], `account-${accountId}`)
            assert.notInclude(m.text, "Grace Hopper")
            assert.notInclude(m.text, "grace@example.org")
          }
          assert.deepStrictEqual(messages.map((m) => (m.payload as { data: { amount?: number } }).data.amount), [undefined, 10, 20])
        }).pipe(Effect.provide(ledger))
      }).pipe(Effect.scoped), 180_000)
  })
})
