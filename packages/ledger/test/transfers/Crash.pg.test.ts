/**
 * Crash safety of the transfer process manager. 200 transfers among 11 accounts (some closed, frozen or
 * short of money) are requested concurrently, in one chunk per life of the whole runtime (store,
 * projections, runner), with concurrent deposits contending on the same account streams. Every fault is
 * forced at a chosen point, so each happens exactly as often as planned however fast the machine is:
 * (a) the store the process manager writes through fails chosen append attempts of a life: retryable
 *     failures BEFORE the write, AFTER the write ("outcome unknown"), and outages of several attempts.
 *     The process manager's commands run in its batch's transaction, where the command handler never
 *     retries (a real failure aborts that transaction): each failed attempt fails the batch back to the
 *     runner, which rolls it back and runs it again;
 * (b) requests fail at chosen attempts too; some outlast the handler, and the caller repeats them;
 * (c) every other life is killed in the middle of its first batch: a chosen append, after others of that
 *     batch, is written and never answers (that life's chunk is written before it starts, so the batch
 *     holds it); the other lives are torn down wherever the runner is, once it made a chosen number of
 *     appends. A last life runs until every transfer has ended.
 * Then every transfer must have ended (completed, debit rejected, or refunded) on the exact steps of its
 * path, money must be conserved, no account may show a transfer step twice, no debit may be left pending
 * and nothing may be parked.
 *
 * A second test makes the step's record fail permanently after the account command: the account command
 * rolls back with it (same transaction), the transfer's stream parks, and an operator's retry completes it.
 */
import { assert, layer } from "@effect/vitest"
import { Account, Decider, type Ids, Transfer } from "@verity/domain"
import { EventStore } from "@verity/eventstore"
import { forEachDatabase } from "@verity/postgres/testing"
import { Projections } from "@verity/projections"
import { Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { accountCodec } from "../../src/Streams.ts"
import * as TransferProcess from "../../src/TransferProcess.ts"
import {
  accountEvents,
  accountState,
  balanceOf,
  closeAccount,
  deposit,
  eventually,
  faultCounts,
  type FaultPlan,
  faultyStoreLayer,
  freezeAccount,
  isInjectedOutage,
  lastFaultAttempt,
  makeFaults,
  newAccountId,
  newTransferId,
  openAccount,
  prng,
  type Requested,
  requestTransfer,
  runtime,
  runtimeOn,
  settled,
  transferEvents,
  transferState
} from "./support.ts"

const NAME = TransferProcess.NAME
const SEED = 20_261_101
const TRANSFERS = 200
/** Attempts the command handler makes per append outside a transaction (1 + 4 retries): requests' faults. */
const HANDLER_ATTEMPTS = 5

/**
 * The lives of the runtime before the last one. A teardown life runs its faults (attempts counted from
 * the life's start), then is torn down wherever it is; a crash life is killed inside its first batch.
 */
type Life = { readonly kind: "teardown"; readonly faults: FaultPlan } | { readonly kind: "crash" }
const LIVES: ReadonlyArray<Life> = [
  { kind: "teardown", faults: { before: [3], after: [6] } },
  { kind: "crash" },
  // Fails the batch once per attempt: the runner's retries meet every attempt of the outage.
  { kind: "teardown", faults: { outages: [{ from: 4, length: HANDLER_ATTEMPTS + 1 }] } },
  { kind: "crash" },
  // An append whose outcome is unknown, then an outage: the batch (and that write) rolls back each time.
  { kind: "teardown", faults: { after: [2], outages: [{ from: 3, length: HANDLER_ATTEMPTS }] } },
  { kind: "crash" },
  { kind: "teardown", faults: { before: [2, 9], after: [5] } },
  { kind: "crash" },
  { kind: "teardown", faults: {} },
  { kind: "crash" }
]
/** Requests released per life: every life has fresh work, and at least this many appends to make. */
const CHUNK = TRANSFERS / LIVES.length
const DEPOSITS_PER_LIFE = 4
/** The faults of some requests, by request (which requests: seeded). */
const REQUEST_FAULTS: ReadonlyArray<FaultPlan> = [
  ...Array.from({ length: 4 }, () => ({ before: [1] })),
  ...Array.from({ length: 4 }, () => ({ after: [1] })),
  // Written, then the handler's attempts all fail: the caller repeats the request, which decides nothing.
  ...Array.from({ length: 2 }, () => ({ after: [1], outages: [{ from: 2, length: HANDLER_ATTEMPTS - 1 }] }))
]

/** What a list of plans injects in all. */
const plannedFaults = (plans: ReadonlyArray<FaultPlan>) => {
  const counts = faultCounts()
  for (const plan of plans) {
    counts.before += plan.before?.length ?? 0
    counts.after += plan.after?.length ?? 0
    for (const outage of plan.outages ?? []) counts.outage += outage.length
    if (plan.hang !== undefined) counts.hang++
  }
  return counts
}

const TERMINAL_TYPES = ["TransferCompleted", "SourceDebitRejected", "SourceAccountRefunded"]

const isRetryable = (error: { readonly _tag: string }) =>
  error._tag === "StoreUnavailable" && (error as { readonly retryable?: boolean }).retryable === true

forEachDatabase((target) => {
  // The faults of the process manager's store, shared by its batches; each life sets its plan.
  const pm = makeFaults()
  /**
   * While armed (a crash life), attempts are counted per batch, so the chosen one comes after others of
   * the same batch; `batches` and `events` say which batch of the life it is and how many events it holds.
   */
  const crash = { armed: false, batches: 0, events: 0 }
  /** Batches being applied now (a teardown that finds one running interrupts it). */
  let applying = 0
  /** Batches that failed back to the runner (then rolled back and retried), by cause. */
  const stats = { outageFailures: 0, otherFailures: 0 }
  const process = TransferProcess.projection
  const faultyProcess: typeof process = {
    ...process,
    apply: (events, context) =>
      Effect.suspend(() => {
        if (crash.armed) {
          pm.attempts = 0
          crash.batches++
          crash.events = events.length
        }
        applying++
        return process.apply(events, context).pipe(Effect.ensuring(Effect.sync(() => applying--)))
      }).pipe(
        Effect.provide(faultyStoreLayer(pm)),
        Effect.tapError((error) =>
          Effect.sync(() => {
            if (isInjectedOutage(error)) stats.outageFailures++
            else stats.otherFailures++
          })
        )
      )
  }

  /** One "process": the whole ledger runtime running the (faulty) process manager, until its scope closes. */
  const startLife = Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Layer.build(runtime([faultyProcess])).pipe(Scope.provide(scope))
    return scope
  })

  /** Committed transfers that ended, or committed steps of transfers (every event after the request). */
  const count = (what: "terminal" | "steps") =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const rows = what === "terminal"
        ? yield* sql<{ readonly n: bigint }>`
            SELECT count(DISTINCT stream_id) AS n FROM verity.events WHERE category = 'transfer' AND type = ANY(${TERMINAL_TYPES}::text[])`
        : yield* sql<{ readonly n: bigint }>`
            SELECT count(*) AS n FROM verity.events WHERE category = 'transfer' AND type <> 'TransferRequested'`
      return Number(rows[0]!.n)
    }).pipe(Effect.orDie)

  /** No committed event waits behind an open transaction: a runner starting now reads all of them. */
  const allReadable = Effect.gen(function*() {
    const store = yield* EventStore
    const backlog = yield* store.backlog({})
    return Option.isNone(backlog.heldBackBy) ? true : undefined
  }).pipe(Effect.orDie)

  // The suite's own runtime does not run projections: each test starts and stops its "processes".
  layer(runtimeOn(target, [faultyProcess], false), { excludeTestServices: true, timeout: "300 seconds" })(
    "transfer process manager: faults and restarts",
    (it) => {
      it.effect("200 concurrent transfers through injected store failures and repeated restarts end consistently", () =>
        Effect.gen(function*() {
          const random = prng(SEED)
          const pick = <A>(items: ReadonlyArray<A>) => items[Math.floor(random() * items.length)]!
          /** An integer in [min, max]. */
          const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))

          // 11 accounts: 5 funded, 1 nearly empty, 1 frozen (sends nothing, receives), 2 closed, 1 that sends
          // only the first chunk's fixed transfers (so it has their money), and 1 that opens only once it has refused a
          // credit: credits to it are rejected (AccountNotOpen) and refunded until then, and accepted after.
          // A process that re-sent a credit whose rejection was already recorded would now see it accepted,
          // and create money.
          const funded = yield* Effect.forEach([1, 2, 3, 4, 5], () => openAccount({ deposit: 5_000 + Math.floor(random() * 10_000) }))
          const poor = yield* openAccount({ deposit: 100 })
          const frozen = yield* openAccount({ deposit: 3_000 })
          yield* freezeAccount(frozen)
          const closed = yield* Effect.forEach([1, 2], () => openAccount())
          yield* Effect.forEach(closed, closeAccount)
          const payer = yield* openAccount({ deposit: 1_000 })
          const late = newAccountId()
          const senders: ReadonlyArray<Ids.AccountId> = [...funded, poor, frozen, ...closed, late]
          const accounts: ReadonlyArray<Ids.AccountId> = [...senders, payer]
          let expectedTotal = 0
          for (const id of accounts) expectedTotal += yield* balanceOf(id)

          // The first chunk opens with three transfers whose outcome is fixed: refused by the late account
          // (the only transfer to it in that chunk, so it is refused, and the account opens after it), completed,
          // and rejected at the debit (a closed account).
          const fixed = {
            refused: { from: payer, to: late, amount: 1 },
            completed: { from: payer, to: funded[0]!, amount: 1 },
            debitRejected: { from: closed[0]!, to: funded[1]!, amount: 1 }
          }
          const plan = [fixed.refused, fixed.completed, fixed.debitRejected]
          while (plan.length < TRANSFERS) {
            const from = pick(senders)
            let to = pick(accounts)
            while (to === from || (plan.length < CHUNK && to === late)) to = pick(accounts)
            plan.push({ from, to, amount: 1 + Math.floor(random() * 1_500) })
          }
          const transfers = plan.map((p, i) => ({ ...p, index: i, transferId: newTransferId() }))
          const depositTargets = [...funded, poor, frozen, payer]
          const deposits = Array.from(
            { length: DEPOSITS_PER_LIFE * LIVES.length },
            () => ({ to: pick(depositTargets), amount: 1 + Math.floor(random() * 500) })
          )
          const requestFaults = new Map<number, FaultPlan>()
          for (const faults of REQUEST_FAULTS) {
            let index = between(0, TRANSFERS - 1)
            while (requestFaults.has(index)) index = between(0, TRANSFERS - 1)
            requestFaults.set(index, faults)
          }

          // Requests go through faulty stores of their own (an append may commit and still report a failure:
          // the command handler retries with the same event ids, and a request repeated by its caller, with
          // the same transfer id, decides nothing).
          const requestInjected = faultCounts()
          const requested: Array<Requested> = []
          let callerRepeats = 0
          const request = (t: (typeof transfers)[number]) =>
            requestTransfer(t.from, t.to, t.amount, { transferId: t.transferId, metadata: { correlationId: `chaos-${t.index}` } }).pipe(
              Effect.provide(faultyStoreLayer(makeFaults(requestFaults.get(t.index), requestInjected))),
              Effect.tapError(() => Effect.sync(() => callerRepeats++)),
              Effect.retry({ while: isRetryable, times: 3 }),
              Effect.tap((r) => Effect.sync(() => requested.push(r)))
            )
          const requestAll = (chunk: ReadonlyArray<(typeof transfers)[number]>) => Effect.forEach(chunk, request, { concurrency: 16, discard: true })
          // Deposits are not idempotent (no operation id): they use the plain store, and contend with the
          // process manager's appends on the same account streams (version conflicts, row locks).
          let deposited = 0
          const depositAll = (chunk: ReadonlyArray<(typeof deposits)[number]>) =>
            Effect.forEach(chunk, (d) =>
              Effect.gen(function*() {
                const state = yield* accountState(d.to)
                if (state.status !== "Open") return
                yield* deposit(d.to, d.amount, state.currency)
                deposited += d.amount
              }), { concurrency: DEPOSITS_PER_LIFE, discard: true })
          /** Work forked in one life and still running into the next (joined before a crash life writes its chunk). */
          const inFlight: Array<Fiber.Fiber<void, unknown>> = []
          const joinInFlight = Effect.gen(function*() {
            while (inFlight.length > 0) yield* Fiber.join(inFlight.shift()!)
          })

          let lateOpenedInLife = 0
          const lateRefusedACredit = Effect.gen(function*() {
            const sql = yield* SqlClient
            const rows = yield* sql`
              SELECT 1 FROM verity.events r JOIN verity.events c ON c.stream_id = r.stream_id
              WHERE r.category = 'transfer' AND r.type = 'TransferRequested' AND r.data->>'toAccountId' = ${late}
                AND c.type = 'TargetCreditRejected' LIMIT 1`
            return rows.length > 0
          }).pipe(Effect.orDie)

          /** The fault plan each life ran, and what happened at its end. */
          const ran: Array<FaultPlan> = []
          const crashes: Array<{ readonly attempt: number; readonly batch: number; readonly events: number }> = []
          const teardowns: Array<{ readonly steps: number; readonly midBatch: boolean }> = []
          for (const [n, life] of LIVES.entries()) {
            const lifeNumber = n + 1
            const chunk = transfers.slice(n * CHUNK, (n + 1) * CHUNK)
            const depositing = depositAll(deposits.slice(n * DEPOSITS_PER_LIFE, (n + 1) * DEPOSITS_PER_LIFE))
            pm.attempts = 0
            if (life.kind === "crash") {
              // Written and readable before the runtime starts, the chunk is in its first batch: at least
              // CHUNK fresh requests, each making at least one append (debit and record, or the rejection),
              // and no other writer runs until the hang.
              yield* joinInFlight
              yield* requestAll(chunk)
              yield* eventually("every committed event to be readable", allReadable, "120 seconds")
              const hang = between(2, CHUNK - 1)
              pm.plan = { hang }
              ran.push(pm.plan)
              crash.armed = true
              crash.batches = 0
              const hangs = pm.injected.hang
              const scope = yield* startLife
              yield* eventually(
                `life ${lifeNumber} to hang at append ${hang} of a batch`,
                Effect.sync(() => pm.injected.hang > hangs ? true : undefined),
                "60 seconds"
              )
              crashes.push({ attempt: hang, batch: crash.batches, events: crash.events })
              // Deposits to an account the hung batch wrote wait on its row locks until the kill rolls it back.
              inFlight.push(yield* Effect.forkChild(depositing))
              yield* Scope.close(scope, Exit.void)
              crash.armed = false
            } else {
              pm.plan = life.faults
              ran.push(pm.plan)
              // Torn down once its faults have all happened and it committed a chosen number of steps: at
              // least CHUNK steps and CHUNK attempts are certain (fresh requests), so the life gets there.
              const faultsDone = lastFaultAttempt(life.faults)
              const steps = between(1, CHUNK)
              const stepsAtStart = yield* count("steps")
              const scope = yield* startLife
              const work = yield* Effect.forkChild(Effect.all([requestAll(chunk), depositing], { concurrency: 2, discard: true }))
              yield* eventually(
                `life ${lifeNumber} to commit ${steps} steps after ${faultsDone} append attempts`,
                Effect.gen(function*() {
                  if (lateOpenedInLife === 0 && (yield* lateRefusedACredit)) {
                    yield* openAccount({ accountId: late })
                    lateOpenedInLife = lifeNumber
                  }
                  // The first life also waits for the late account to open: later chunks find it open.
                  // Attempts are sequential: once the next one started, the last planned one has ended.
                  if (pm.attempts <= faultsDone || lateOpenedInLife === 0) return undefined
                  return (yield* count("steps")) - stepsAtStart >= steps ? true : undefined
                }),
                "60 seconds"
              )
              yield* joinInFlight
              yield* Fiber.join(work)
              teardowns.push({ steps: (yield* count("steps")) - stepsAtStart, midBatch: applying > 0 })
              yield* Scope.close(scope, Exit.void)
            }
            pm.plan = {}
          }
          // The last life, without faults, runs until every transfer has ended.
          pm.attempts = 0
          yield* joinInFlight
          const last = yield* startLife
          yield* eventually("every transfer to end", Effect.map(count("terminal"), (n) => n >= TRANSFERS ? true : undefined), "60 seconds")
          yield* Scope.close(last, Exit.void)

          // Every planned fault happened, exactly as planned.
          assert.strictEqual(ran.length, LIVES.length)
          assert.deepStrictEqual(pm.injected, plannedFaults(ran), "process manager faults")
          assert.deepStrictEqual(requestInjected, plannedFaults(REQUEST_FAULTS), "request faults")
          // Inside the batch's transaction nothing retries: every attempt of an outage failed its batch back to the runner.
          assert.strictEqual(stats.outageFailures, plannedFaults(ran).outage, "batches failed by an outage")
          assert.strictEqual(callerRepeats, REQUEST_FAULTS.filter((p) => (p.outages ?? []).length > 0).length, "requests repeated by their caller")
          // Each crash life was killed inside its first batch, which held its chunk, after other appends of it.
          assert.strictEqual(crashes.length, LIVES.filter((l) => l.kind === "crash").length)
          for (const c of crashes) {
            assert.strictEqual(c.batch, 1, "killed in the first batch of its life")
            assert.isAtLeast(c.events, CHUNK, "that batch held the life's chunk")
            assert.isAtLeast(c.attempt, 2, "after other appends of that batch")
          }
          assert.strictEqual(lateOpenedInLife, 1, "the late account opened in the first life, after refusing a credit")
          assert.strictEqual(requested.length, TRANSFERS)

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
          const states = new Map<Ids.TransferId, Transfer.TransferState>()
          for (const r of requested) {
            const state = yield* transferState(r.transferId)
            states.set(r.transferId, state)
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
          // The fixed transfers of the first chunk ended as they must.
          const outcomeOf = (i: number) => {
            const state = states.get(transfers[i]!.transferId)!
            return state.status === "Failed" ? `${state.failedStep}:${state.reason}` : state.status
          }
          assert.strictEqual(outcomeOf(0), "Credit:AccountNotOpen", "the first credit to the late account was refused")
          assert.strictEqual(outcomeOf(1), "Completed")
          assert.strictEqual(outcomeOf(2), "Debit:AccountIsClosed")
          // Once open, the late account never refused a credit again.
          const toLate = transfers.filter((t) => t.to === late).map((t) => outcomeOf(t.index))
          assert.deepStrictEqual(toLate.filter((o) => o.startsWith("Credit:")), ["Credit:AccountNotOpen"], "credits to the late account refused")

          // Accounts, folded from their events: money conserved, each step at most once, nothing pending.
          let total = 0
          for (const id of accounts) {
            const events = yield* accountEvents(id)
            const state = Decider.fold(Account.decider, yield* accountCodec.decodeAll(events))
            total += Account.balanceOf(state)
            const seen = new Map<string, number>()
            for (const e of events) {
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
          yield* Effect.logInfo("chaos outcome", { crashes, teardowns, stats, injected: pm.injected, requestInjected, outcomes, deposited })
        }))

      it.effect("a record that fails after the account command rolls the command back; the stream parks; a retry completes it", () =>
        Effect.gen(function*() {
          pm.plan = {}
          pm.fatal = (stream, events) => stream.startsWith("transfer-") && events.some((e) => e.type === "SourceAccountDebited")
          const fatalBefore = pm.injected.fatal
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
          assert.isAtLeast(pm.injected.fatal - fatalBefore, 2)
          assert.isFalse((yield* accountEvents(a)).some((e) => e.type === "MoneyDebitedForTransfer"), "no debit survived")
          assert.strictEqual(yield* balanceOf(a), 1_000)
          assert.strictEqual((yield* transferState(transferId)).status, "Requested")
          // Fixed: the operator retries the parked stream and the saga runs to its end.
          pm.fatal = () => false
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
