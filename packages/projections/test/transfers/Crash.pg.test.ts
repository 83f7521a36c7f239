/**
 * Crash safety of the transfer process manager. 200 transfers among 10 accounts (some closed, frozen or
 * short of money) are requested concurrently, with concurrent deposits, while:
 * (a) the store the process manager writes through fails appends at random: retryable failures BEFORE
 *     the write, AFTER the write ("commit outcome unknown"), and outages long enough to defeat the
 *     command handler's own retries, so whole batches roll back and run again;
 * (b) the whole runtime (store, projections, runner) is torn down mid-flight and built again, many times:
 *     every other time exactly in the middle of a batch, after some of its commands were appended.
 * Then every transfer must have ended (completed, debit rejected, or refunded), money must be conserved,
 * no account may show a transfer step twice, and no debit may be left pending.
 *
 * A second test makes the step's record fail permanently after the account command: the account command
 * rolls back with it (same transaction), the transfer's stream parks, and an operator's retry completes it.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Account, Decider, type Ids, Transfer } from "@verity/domain"
import type { RecordedEvent } from "@verity/eventstore"
import { forEachDatabase } from "@verity/eventstore/testing"
import * as Projections from "../../src/Projections.ts"
import { accountCodec } from "../../src/ledger/Streams.ts"
import * as TransferProcess from "../../src/ledger/TransferProcess.ts"
import {
  accountEvents,
  accountState,
  balanceOf,
  closeAccount,
  deposit,
  eventually,
  faultyStoreLayer,
  freezeAccount,
  makeFaults,
  newAccountId,
  openAccount,
  prng,
  requestTransfer,
  type Requested,
  runtime,
  runtimeOn,
  settled,
  transferEvents,
  transferState
} from "./support.ts"

const NAME = TransferProcess.NAME
const SEED = 20_261_101
const TRANSFERS = 200
/** Runtime restarts triggered by progress; after them one last life runs until every transfer has ended. */
const RESTARTS = 25

const TERMINAL_TYPES = ["TransferCompleted", "SourceDebitRejected", "SourceAccountRefunded"]

const isRetryable = (error: { readonly _tag: string }) =>
  error._tag === "StoreUnavailable" && (error as { readonly retryable?: boolean }).retryable === true

forEachDatabase((target) => {
  // The faults the process manager's store goes through; each test sets them.
  const faults = makeFaults(SEED)
  /** A crash in the middle of a batch: when armed, the next batch applies its first half, then hangs until killed. */
  const crash = { armed: false, fired: 0 }
  /** Batches that failed back to the runner (an outage outlasted the command handler's retries): rolled back, retried. */
  const stats = { failedBatches: 0 }
  const process = TransferProcess.projection
  const faultyProcess: typeof process = {
    ...process,
    apply: (events, context) =>
      Effect.gen(function*() {
        if (crash.armed) {
          // The commands of these events are appended in the runner's open transaction; the kill rolls them back.
          yield* process.apply(events.slice(0, Math.max(1, Math.floor(events.length / 2))), context)
          crash.armed = false
          crash.fired++
          return yield* Effect.never
        }
        yield* process.apply(events, context)
      }).pipe(
        Effect.provide(faultyStoreLayer(faults)),
        Effect.tapError(() => Effect.sync(() => stats.failedBatches++))
      )
  }

  /** One "process": the whole ledger runtime running the (faulty) process manager, until its scope closes. */
  const startLife = Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Layer.build(runtime([faultyProcess])).pipe(Scope.provide(scope))
    return scope
  })

  const count = (what: "progress" | "terminal") =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const rows = what === "terminal"
        ? yield* sql<{ readonly n: bigint }>`
            SELECT count(DISTINCT stream_id) AS n FROM verity.events WHERE category = 'transfer' AND type = ANY(${TERMINAL_TYPES}::text[])`
        : yield* sql<{ readonly n: bigint }>`
            SELECT count(*) AS n FROM verity.events WHERE category = 'transfer' AND type <> 'TransferRequested'`
      return Number(rows[0]!.n)
    }).pipe(Effect.orDie)

  // The suite's own runtime does not run projections: each test starts and stops its "processes".
  layer(runtimeOn(target, [faultyProcess], false), { excludeTestServices: true, timeout: "300 seconds" })(
    "transfer process manager: faults and restarts",
    (it) => {
      it.effect("200 concurrent transfers through injected store failures and repeated restarts end consistently", () =>
        Effect.gen(function*() {
          const random = prng(SEED)
          const pick = <A>(items: ReadonlyArray<A>) => items[Math.floor(random() * items.length)]!
          faults.before = 0.03
          faults.after = 0.03
          faults.outage = 0.01
          faults.outageLength = 6

          // 10 accounts: 5 funded, 1 nearly empty, 1 frozen (sends nothing, receives), 2 closed, and 1 that
          // opens only once it has refused a credit: credits to it are rejected (AccountNotOpen) and refunded
          // until then, and accepted after. A process that re-sent a credit whose rejection was already recorded would
          // now see it accepted, and create money.
          const funded = yield* Effect.forEach([1, 2, 3, 4, 5], () => openAccount({ deposit: 5_000 + Math.floor(random() * 10_000) }))
          const poor = yield* openAccount({ deposit: 100 })
          const frozen = yield* openAccount({ deposit: 3_000 })
          yield* freezeAccount(frozen)
          const closed = yield* Effect.forEach([1, 2], () => openAccount())
          yield* Effect.forEach(closed, closeAccount)
          const late = newAccountId()
          const accounts: ReadonlyArray<Ids.AccountId> = [...funded, poor, frozen, ...closed, late]
          let expectedTotal = 0
          for (const id of accounts) expectedTotal += yield* balanceOf(id)

          const plan = Array.from({ length: TRANSFERS }, () => {
            const from = pick(accounts)
            let to = pick(accounts)
            while (to === from) to = pick(accounts)
            return { from, to, amount: 1 + Math.floor(random() * 1_500) }
          })
          const depositTargets = [...funded, poor, frozen]
          const deposits = Array.from({ length: 40 }, () => ({ to: pick(depositTargets), amount: 1 + Math.floor(random() * 500) }))

          // Requests go through the faulty store too (an append may commit and still report a failure: the
          // command handler retries with the same event ids, and a request repeated by its caller decides nothing).
          let requestsDone = false
          const requests = yield* Effect.forEach(plan, (p, i) =>
            requestTransfer(p.from, p.to, p.amount, { metadata: { correlationId: `chaos-${i}` } }).pipe(
              Effect.provide(faultyStoreLayer(faults)),
              Effect.retry({ while: isRetryable, times: 20 })
            ), { concurrency: 16 }).pipe(
            Effect.ensuring(Effect.sync(() => {
              requestsDone = true
            })),
            Effect.forkChild
          )
          // Deposits are not idempotent (no operation id): they use the plain store, and contend with the
          // process manager's appends on the same account streams (version conflicts, row locks).
          const depositing = yield* Effect.forEach(deposits, (d) =>
            Effect.gen(function*() {
              const state = yield* accountState(d.to)
              if (state.status !== "Open") return 0
              yield* deposit(d.to, d.amount, state.currency)
              return d.amount
            }), { concurrency: 4 }).pipe(Effect.forkChild)

          const allEnded = Effect.map(count("terminal"), (n) => requestsDone && n >= TRANSFERS)
          let lives = 0
          let lateOpened = false
          const lateRefusedACredit = Effect.gen(function*() {
            const sql = yield* SqlClient
            const rows = yield* sql`
              SELECT 1 FROM verity.events r JOIN verity.events c ON c.stream_id = r.stream_id
              WHERE r.category = 'transfer' AND r.type = 'TransferRequested' AND r.data->>'toAccountId' = ${late}
                AND c.type = 'TargetCreditRejected' LIMIT 1`
            return rows.length > 0
          }).pipe(Effect.orDie)
          while (!(yield* allEnded)) {
            lives++
            // Odd lives are torn down after some progress (wherever the runner is); even lives are killed in
            // the middle of a batch, after some of its commands were appended; the last life runs to the end.
            const mode = lives > RESTARTS ? "final" : lives % 2 === 0 ? "crash" : "teardown"
            crash.armed = mode === "crash"
            const crashes = crash.fired
            const progress = (yield* count("progress")) + 5 + Math.floor(random() * 30)
            const scope = yield* startLife
            yield* eventually(
              `life ${lives} (${mode}) to reach its end`,
              Effect.gen(function*() {
                if (!lateOpened && (yield* lateRefusedACredit)) {
                  yield* openAccount({ accountId: late })
                  lateOpened = true
                }
                if (yield* allEnded) return true
                if (mode === "crash") return crash.fired > crashes ? true : undefined
                if (mode === "teardown") return (yield* count("progress")) >= progress ? true : undefined
                return undefined
              }),
              "120 seconds"
            )
            yield* Scope.close(scope, Exit.void)
          }
          crash.armed = false
          const requested: ReadonlyArray<Requested> = yield* Fiber.join(requests)
          const deposited = (yield* Fiber.join(depositing)).reduce((a, b) => a + b, 0)
          assert.isAbove(lives, 3, "the runtime was restarted while transfers were in flight")
          assert.isAbove(faults.injected.before, 0)
          assert.isAbove(faults.injected.after, 0)
          assert.isAbove(faults.injected.outage, 0)
          assert.isAtLeast(crash.fired, 3, "runtimes were killed in the middle of a batch")
          assert.isAbove(stats.failedBatches, 0, "batches failed back to the runner and were retried")

          // Every transfer ended, and its stream holds exactly the steps of its path (no step twice).
          const outcomes = { completed: 0, debitRejected: 0, refunded: 0 }
          const paths = {
            Completed: ["TransferRequested", "SourceAccountDebited", "TargetAccountCredited", "TransferCompleted"],
            Debit: ["TransferRequested", "SourceDebitRejected"],
            Credit: ["TransferRequested", "SourceAccountDebited", "TargetCreditRejected", "SourceAccountRefunded"]
          }
          const legs = new Map<Ids.AccountId, Account.AccountState>()
          for (const id of accounts) legs.set(id, yield* accountState(id))
          const legOf = (account: Ids.AccountId, transferId: Ids.TransferId): Readonly<Record<string, unknown>> | undefined => {
            const state = legs.get(account)!
            return state.status === "Unopened" ? undefined : state.transfers[transferId]
          }
          for (const r of requested) {
            const state = yield* transferState(r.transferId)
            assert.isTrue(Transfer.isTerminal(state), `transfer ${r.transferId} ended (${state.status})`)
            if (state.status !== "Completed" && state.status !== "Failed") continue
            const types = (yield* transferEvents(r.transferId)).map((e) => e.type)
            const path = state.status === "Completed" ? "Completed" : state.failedStep
            assert.deepStrictEqual(types, paths[path], r.transferId)
            const source = legOf(r.from, r.transferId)
            const target = legOf(r.to, r.transferId)
            if (path === "Completed") {
              outcomes.completed++
              assert.deepStrictEqual(source, { _tag: "Outgoing", toAccountId: r.to, amount: r.amount, status: "Settled" })
              assert.deepStrictEqual(target, { _tag: "Incoming", fromAccountId: r.from, amount: r.amount })
            } else if (path === "Debit") {
              outcomes.debitRejected++
              assert.isUndefined(source, "nothing debited")
              assert.isUndefined(target, "nothing credited")
            } else {
              outcomes.refunded++
              assert.deepStrictEqual(source, { _tag: "Outgoing", toAccountId: r.to, amount: r.amount, status: "Refunded" })
              assert.isUndefined(target, "nothing credited")
            }
          }
          assert.strictEqual(outcomes.completed + outcomes.debitRejected + outcomes.refunded, TRANSFERS)
          assert.isAbove(outcomes.completed, 0)
          assert.isAbove(outcomes.debitRejected, 0)
          assert.isAbove(outcomes.refunded, 0)
          const toLate = requested.filter((r) => r.to === late)
          const lateOutcomes = yield* Effect.forEach(toLate, (r) => transferState(r.transferId))
          assert.isTrue(lateOutcomes.some((s) => s.status === "Failed" && s.reason === "AccountNotOpen"), "credits to the late account were refused before it opened")
          assert.isTrue(lateOpened)

          // Accounts, folded from their events: money conserved, each step at most once, nothing pending.
          let total = 0
          for (const id of accounts) {
            const events = yield* accountEvents(id)
            const state = Decider.fold(Account.decider, yield* accountCodec.decodeAll(events))
            total += Account.balanceOf(state)
            const seen = new Map<string, number>()
            for (const e of events as ReadonlyArray<RecordedEvent>) {
              const transferId = (e.data as { transferId?: string }).transferId
              if (transferId === undefined) continue
              const key = `${e.type}/${transferId}`
              seen.set(key, (seen.get(key) ?? 0) + 1)
            }
            for (const [key, n] of seen) assert.strictEqual(n, 1, `${id}: ${key} recorded ${n} times`)
            if (state.status !== "Unopened") assert.deepStrictEqual(Account.pendingTransfers(state.transfers), [], `${id} has pending debits`)
          }
          assert.strictEqual(total, expectedTotal + deposited, "money is conserved")

          const projections = yield* Projections.Projections
          assert.deepStrictEqual(yield* projections.parked(NAME), [])
          yield* Effect.logInfo("chaos outcome", { lives, toLate: lateOutcomes.map((s) => s.status === "Failed" ? `${s.failedStep}:${s.reason}` : s.status).join(","), crashes: crash.fired, failedBatches: stats.failedBatches, injected: faults.injected, outcomes, deposited })
        }))

      it.effect("a record that fails after the account command rolls the command back; the stream parks; a retry completes it", () =>
        Effect.gen(function*() {
          faults.before = 0
          faults.after = 0
          faults.outage = 0
          faults.fatal = (stream, events) => stream.startsWith("transfer-") && events.some((e) => e.type === "SourceAccountDebited")
          const fatalBefore = faults.injected.fatal
          const projections = yield* Projections.Projections
          const scope = yield* startLife
          const a = yield* openAccount({ deposit: 1_000 })
          const b = yield* openAccount()
          const { transferId } = yield* requestTransfer(a, b, 400)
          const stream = `transfer-${transferId}`
          const parked = yield* eventually(
            "the transfer to park",
            Effect.map(projections.parked(NAME), (rows) => rows.find((row) => row.stream === stream))
          )
          assert.include(parked.error, "injected fatal failure")
          // The debit was appended in the same transaction as the failed record: both rolled back, every time.
          assert.isAtLeast(faults.injected.fatal - fatalBefore, 2)
          assert.isFalse((yield* accountEvents(a)).some((e) => e.type === "MoneyDebitedForTransfer"), "no debit survived")
          assert.strictEqual(yield* balanceOf(a), 1_000)
          assert.strictEqual((yield* transferState(transferId)).status, "Requested")
          // Fixed: the operator retries the parked stream and the saga runs to its end.
          faults.fatal = () => false
          const retried = yield* projections.retry(NAME, stream)
          assert.deepStrictEqual(retried, { resumed: true, applied: 1, skipped: 0, error: undefined })
          assert.strictEqual((yield* settled(transferId)).status, "Completed")
          assert.strictEqual(yield* balanceOf(a), 600)
          assert.strictEqual(yield* balanceOf(b), 400)
          yield* Scope.close(scope, Exit.void)
        }))
    }
  )
})
