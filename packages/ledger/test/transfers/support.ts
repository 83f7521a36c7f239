/**
 * Helpers for the transfer process manager suites: the ledger runtime on a test database (master key
 * from a ConfigProvider, fast polling, small batches), account and transfer commands, condition waits
 * with timeouts, and an `EventStore` wrapper that fails chosen append attempts.
 */
import { Account, Ids, Money, Text, Timestamp, Transfer } from "@verity/domain"
import {
  type AppendResult,
  type EventMetadata,
  EventStore,
  MasterKeys,
  type NewEvent,
  type RecordedEvent,
  StoreUnavailable
} from "@verity/eventstore"
import { eventually as waitFor, TestDatabase, type TestTarget } from "@verity/postgres/testing"
import type { Projection } from "@verity/projections"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import * as LedgerRuntime from "../../src/LedgerRuntime.ts"
import { Accounts, Transfers } from "../../src/Streams.ts"

/** One master key for the whole run: every runtime built in a suite must read what the others wrote. */
const masterKey = MasterKeys.generate("k1")

/** Replaces the whole ConfigProvider: the environment (DATABASE_URL, keys files) must not leak in. */
export const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ VERITY_MASTER_KEYS: masterKey }))

/** Runtime options for tests: fast polling and discovery, process-manager-sized batches. */
export const projectionOptions = {
  pollInterval: "50 millis",
  discoveryInterval: "200 millis",
  batchSize: 25
} as const

/** The ledger runtime (protected store + projections) running `projections`, on a `PgClient` from outside. */
export const runtime = (projections: ReadonlyArray<Projection.Projection>, run = true) =>
  LedgerRuntime.layerWithoutDatabase({ projections, runProjections: run, projectionOptions }).pipe(Layer.provide(config))

/** `runtime` on a brand-new database of `target`. */
export const runtimeOn = (target: TestTarget, projections: ReadonlyArray<Projection.Projection>, run = true) =>
  runtime(projections, run).pipe(Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 12 })))

// --- commands ------------------------------------------------------------------------------------------------

export const now = () => Timestamp.fromEpochMillis(Date.now())
export const newAccountId = () => Ids.AccountId.make(crypto.randomUUID())
export const newTransferId = () => Ids.TransferId.make(crypto.randomUUID())
export const EUR = Money.Currency.make("EUR")
export const USD = Money.Currency.make("USD")

export const openAccount = (
  options: { readonly accountId?: Ids.AccountId; readonly currency?: Money.Currency; readonly deposit?: number } = {}
) =>
  Effect.gen(function*() {
    const accountId = options.accountId ?? newAccountId()
    const currency = options.currency ?? EUR
    yield* Accounts.handle(accountId, {
      _tag: "OpenAccount",
      accountId,
      holderName: Account.HolderName.make(`Holder ${accountId.slice(0, 8)}`),
      holderEmail: Account.HolderEmail.make(`h-${accountId.slice(0, 8)}@example.com`),
      currency,
      at: now()
    })
    if (options.deposit !== undefined && options.deposit > 0) {
      yield* Accounts.handle(accountId, { _tag: "Deposit", accountId, amount: Money.Amount.make(options.deposit), currency, at: now() })
    }
    return accountId
  })

export const deposit = (accountId: Ids.AccountId, amount: number, currency: Money.Currency) =>
  Accounts.handle(accountId, { _tag: "Deposit", accountId, amount: Money.Amount.make(amount), currency, at: now() })

export const closeAccount = (accountId: Ids.AccountId) => Accounts.handle(accountId, { _tag: "CloseAccount", accountId, at: now() })

export const freezeAccount = (accountId: Ids.AccountId) =>
  Accounts.handle(accountId, { _tag: "FreezeAccount", accountId, reason: Text.Reason.make("test"), at: now() })

export interface Requested {
  readonly transferId: Ids.TransferId
  readonly from: Ids.AccountId
  readonly to: Ids.AccountId
  readonly amount: number
}

export const requestTransfer = (
  from: Ids.AccountId,
  to: Ids.AccountId,
  amount: number,
  options: { readonly transferId?: Ids.TransferId; readonly currency?: Money.Currency; readonly metadata?: EventMetadata } = {}
) =>
  Effect.gen(function*() {
    const transferId = options.transferId ?? newTransferId()
    yield* Transfers.handle(transferId, {
      _tag: "RequestTransfer",
      transferId,
      fromAccountId: from,
      toAccountId: to,
      amount: Money.Amount.make(amount),
      currency: options.currency ?? EUR,
      at: now()
    }, options.metadata === undefined ? {} : { metadata: options.metadata })
    return { transferId, from, to, amount } satisfies Requested
  })

// --- reading -------------------------------------------------------------------------------------------------

export const accountState = (accountId: Ids.AccountId) => Effect.map(Accounts.load(accountId), (loaded) => loaded.state)
export const transferState = (transferId: Ids.TransferId) => Effect.map(Transfers.load(transferId), (loaded) => loaded.state)
export const balanceOf = (accountId: Ids.AccountId) => Effect.map(accountState(accountId), Account.balanceOf)

export const streamEvents = (stream: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    return yield* store.readStream(stream).pipe(Effect.catchTag("StreamNotFound", () => Effect.succeed<ReadonlyArray<RecordedEvent>>([])))
  })

export const accountEvents = (accountId: Ids.AccountId) => streamEvents(Accounts.streamOf(accountId))
export const transferEvents = (transferId: Ids.TransferId) => streamEvents(Transfers.streamOf(transferId))

/** Repeats `probe` until it returns a value (not `undefined`), failing after `timeout`. Polls, never sleeps blind. */
export const eventually = <A, E, R>(
  what: string,
  probe: Effect.Effect<A | undefined, E, R>,
  timeout: `${number} seconds` = "30 seconds"
) => waitFor(what, probe, (value): value is A => value !== undefined, { timeout, interval: "25 millis" })

export const isTerminal = (state: Transfer.TransferState) => Transfer.isTerminal(state)

/** Waits until the transfer is terminal and returns its state. */
export const settled = (transferId: Ids.TransferId, timeout: `${number} seconds` = "30 seconds") =>
  eventually(`transfer ${transferId} to end`, Effect.map(transferState(transferId), (s) => (isTerminal(s) ? s : undefined)), timeout)

// --- faults --------------------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): workloads and the choice of fault points are reproducible from the seed. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Where the appends made through one `Faults` fail, by the ordinal (1-based) of the append ATTEMPT made
 * through it (a command handler's retry is an attempt too). Chosen points, not probabilities: a fault in
 * the plan happens as soon as that many attempts were made, however fast or slow the machine is.
 */
export interface FaultPlan {
  /** Attempts that fail (retryable) BEFORE reaching the store: nothing written. */
  readonly before?: ReadonlyArray<number>
  /** Attempts the store performs, then reported as failed (retryable): "commit outcome unknown". */
  readonly after?: ReadonlyArray<number>
  /** Outages: `length` consecutive attempts from `from` on fail (retryable) before reaching the store. */
  readonly outages?: ReadonlyArray<{ readonly from: number; readonly length: number }>
  /** The attempt the store performs and then never answers: the process dies in the middle of the call. */
  readonly hang?: number
}

/** Faults injected so far, by kind. */
export interface FaultCounts {
  before: number
  after: number
  outage: number
  hang: number
  fatal: number
}

export interface Faults {
  plan: FaultPlan
  /** Append attempts made through these faults so far (the next one is `attempts + 1`). */
  attempts: number
  /** Appends that fail with a NON-retryable error before anything is written (a bug, a broken stream). */
  fatal: (stream: string, events: ReadonlyArray<NewEvent>) => boolean
  readonly injected: FaultCounts
}

export const faultCounts = (): FaultCounts => ({ before: 0, after: 0, outage: 0, hang: 0, fatal: 0 })

/** Faults following `plan`, counting what they inject into `injected` (shareable between several). */
export const makeFaults = (plan: FaultPlan = {}, injected: FaultCounts = faultCounts()): Faults => ({
  plan,
  attempts: 0,
  fatal: () => false,
  injected
})

/** The highest attempt ordinal `plan` names (0 for an empty plan): once past it, every fault has happened. */
export const lastFaultAttempt = (plan: FaultPlan): number =>
  Math.max(
    0,
    ...(plan.before ?? []),
    ...(plan.after ?? []),
    ...(plan.outages ?? []).map((o) => o.from + o.length - 1),
    ...(plan.hang === undefined ? [] : [plan.hang])
  )

const faultAt = (plan: FaultPlan, attempt: number): Exclude<keyof FaultCounts, "fatal"> | undefined => {
  if (plan.hang === attempt) return "hang"
  if ((plan.outages ?? []).some((o) => attempt >= o.from && attempt < o.from + o.length)) return "outage"
  if (plan.before?.includes(attempt) === true) return "before"
  if (plan.after?.includes(attempt) === true) return "after"
  return undefined
}

export const isInjectedOutage = (error: unknown): boolean => error instanceof StoreUnavailable && error.detail === "injected outage"

const unavailable = (detail: string, retryable = true) =>
  new StoreUnavailable({ operation: "append", reason: retryable ? "Connection" : "Unexpected", retryable, detail })

/** Wraps a store: `append` fails as `faults` say (other operations pass through). */
export const faultyStore = (inner: EventStore["Service"], faults: Faults): EventStore["Service"] => {
  const append: EventStore["Service"]["append"] = (stream, expected, events, options) =>
    Effect.suspend(() => {
      if (faults.fatal(stream, events)) {
        faults.injected.fatal++
        return Effect.fail(unavailable(`injected fatal failure of ${stream}`, false))
      }
      const fault = faultAt(faults.plan, ++faults.attempts)
      if (fault !== undefined && fault !== "after" && fault !== "hang") {
        faults.injected[fault]++
        return Effect.fail(unavailable(fault === "outage" ? "injected outage" : "injected failure before the append"))
      }
      const write = inner.append(stream, expected, events, options)
      if (fault === undefined) return write
      // Whatever the store answered (written, or e.g. a version conflict), the caller never learns it.
      return write.pipe(
        Effect.exit,
        Effect.flatMap((): Effect.Effect<AppendResult, StoreUnavailable> => {
          faults.injected[fault]++
          return fault === "hang" ? Effect.never : Effect.fail(unavailable("injected failure after the append (outcome unknown)"))
        })
      )
    })
  return EventStore.of({ ...inner, append })
}

/** The fault-injecting store as a Layer over the `EventStore` it is given. */
export const faultyStoreLayer = (faults: Faults) =>
  Layer.effect(
    EventStore,
    Effect.gen(function*() {
      return faultyStore(yield* EventStore, faults)
    })
  )

/** `projection` whose `apply` sees the store through `faults` (the runtime's store stays as it is). */
export const withFaults = (projection: Projection.Projection, faults: Faults): Projection.Projection => ({
  ...projection,
  apply: (events, context) => projection.apply(events, context).pipe(Effect.provide(faultyStoreLayer(faults)))
})

export const decodeTransferEvent = Schema.decodeUnknownSync(Transfer.TransferEvent)
