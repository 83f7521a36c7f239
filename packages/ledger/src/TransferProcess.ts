/**
 * The transfer process manager: drives every transfer saga to its end (completed, or failed with
 * nothing moved or with the debit refunded). It runs in the projection runtime like a read model
 * (subscribed to category `transfer`, one active runner across processes, checkpoint, parking), but its
 * `apply` issues commands through the ledger's command bus instead of writing tables.
 *
 * For each transfer event it loads the transfer's CURRENT state and performs the one step that state
 * calls for (`transfers/Steps.ts`): the account command, then the transfer command recording the
 * account's answer. The event that woke it only says which transfer to look at; redelivered or stale
 * events therefore find the step already done or a later status, and decide nothing. Each recorded step
 * appends a transfer event, which wakes the process for the next step, until a terminal status.
 *
 * Exactly-once, without an outbox: the runner calls `apply` inside the transaction that advances the
 * projection's checkpoint, with the runtime's `EventStore` in context. The store's appends run on the
 * same PgClient, and Effect's SqlClient routes every statement of a fiber inside `withTransaction` to
 * that transaction's connection, so the account event, the transfer event and the checkpoint commit
 * together or not at all. A crash, an interrupted runner or a failed statement rolls the whole batch
 * back and the batch runs again: nothing half-done (money debited but the debit not recorded) survives.
 *
 * Failures:
 * - a domain rejection from an account (insufficient funds, frozen, closed, currency) is the saga's
 *   answer: it is recorded (`RecordDebitRejected`, `RecordCreditRejected`), never retried;
 * - infrastructure errors propagate: a retryable `StoreUnavailable` (after the command handler's own
 *   retries) makes the runner roll back and retry the batch with backoff. A version conflict that
 *   outlasted the handler's retries, or a transfer step rejected as out of order (a concurrent writer,
 *   e.g. a second generation during a rebuild, recorded another outcome first), fail with
 *   `ProjectionConflict` (never disguised as an outage): the batch (including our account step) is rolled
 *   back and runs again on the new state;
 * - a transfer event that cannot be decoded, an account stream that cannot be read, or a settle/refund
 *   rejected (an invariant broke) fail with `ProjectionFailure`: the runner isolates the event and, after
 *   its attempts, parks that transfer's stream (visible in status; retry or skip by an operator).
 *
 * Batch size: account and transfer stream rows written by a batch stay locked until the batch commits,
 * so other writers to those accounts wait, and the open transaction holds back the read horizon of every
 * subscriber. Run the process manager with small batches (the runtime's `batchSize`, e.g. 20-50; each
 * event costs about 6 short statements), not the read models' default of 500, e.g. in its own runtime
 * (`LedgerRuntime.layer({ projections: [TransferProcess.projection], projectionOptions: { batchSize: 25 } })`).
 * Do not rebuild it: it has no tables, and a new generation would run beside the active one (harmless,
 * every step is idempotent and conflicts roll back, but pointless). `verify` finds nothing to compare and
 * `apply` does nothing outside the projection's own generations (see `isGenerationContext`).
 *
 * Metadata of every command (filled by the bus, `CommandBus.causedBy`): `correlationId` from the triggering
 * event (or that event's id when it has none), `causationId` = the triggering event's id,
 * `actor` = "transfer-process". Time (`at`) comes from
 * `Clock`; ids come from the transfer.
 */
import { Account, Ids, Timestamp, Transfer } from "@verity/domain"
import { CommandBus, type RecordedEvent, StoreUnavailable } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Clock, Effect, Schema } from "effect"
import * as LedgerCommandBus from "./LedgerCommandBus.ts"
import { TRANSFER_CATEGORY, transferCodec, Transfers } from "./Streams.ts"
import { nextStep, reasonOf, type Step } from "./transfers/Steps.ts"

export const NAME = "transfer_process"
/** The `actor` of every command the process sends. */
export const ACTOR = "transfer-process"

const isAccountRejection = Schema.is(Account.AccountRejection)
const isTransferId = Schema.is(Ids.TransferId)

/**
 * What `apply` may fail with: an outage or a conflict with a concurrent writer (both transient: the runner
 * retries the batch), or anything else (park the stream).
 */
type Failure = Projection.ProjectionFailure | Projection.ProjectionConflict | StoreUnavailable

interface TaggedFailure {
  readonly _tag: string
  readonly message: string
}

/** Maps a command handler's failure to what the runner must do with it. */
const failure = (what: string) => (error: TaggedFailure): Failure => {
  if (error instanceof StoreUnavailable) return error
  switch (error._tag) {
    case "WrongExpectedVersion":
    case "TransferStepOutOfOrder":
      // Someone else wrote the stream in between: retrying the batch against the new state can succeed.
      return new Projection.ProjectionConflict({ message: `${what}: ${error._tag}: ${error.message}`, cause: error })
    default:
      return new Projection.ProjectionFailure({ message: `${what}: ${error._tag}: ${error.message}`, cause: error })
  }
}

/** How every command caused by `event` is dispatched: its correlation and causation, and the process as actor. */
export const dispatchOptionsFor = (event: RecordedEvent): CommandBus.UnkeyedOptions => ({
  ...CommandBus.causedBy(event),
  metadata: { actor: ACTOR }
})

/**
 * True when `apply` runs for one of this projection's generations (the runner, an operator's retry or
 * skip). `verify` recomputes a projection into a scratch schema: for a process manager that would
 * re-issue commands, so there `apply` does nothing (it has no tables to compare anyway).
 */
const GENERATION_SCHEMA = new RegExp(`^${NAME}_g\\d+$`)
const isGenerationContext = (context: Projection.TablesContext) => GENERATION_SCHEMA.test(context.schema)

/** The transfer a recorded event belongs to (its stream), checked against the decoded events. */
const transferOf = (event: RecordedEvent) =>
  Effect.gen(function*() {
    const prefix = `${TRANSFER_CATEGORY}-`
    const id = event.streamId.startsWith(prefix) ? event.streamId.slice(prefix.length) : ""
    const decoded = yield* transferCodec.decode(event).pipe(
      Effect.mapError((error) => new Projection.ProjectionFailure({ message: `undecodable transfer event: ${error.message}`, cause: error }))
    )
    if (!isTransferId(id) || decoded.some((e) => e.transferId !== id)) {
      return yield* new Projection.ProjectionFailure({ message: `event ${event.eventId} of ${event.streamId} names another transfer` })
    }
    return id
  })

/** Sends the step's account command; the recorded answer: the accepted or the rejected transfer command. */
const sendAccountCommand = (step: Step, options: CommandBus.UnkeyedOptions) =>
  LedgerCommandBus.dispatch(step.command, options).pipe(
    Effect.as(step.accepted),
    Effect.catch((error): Effect.Effect<Transfer.TransferCommand, Failure> => {
      // The account's answer, not an error. A tombstoned account can never be written again: it answers
      // like one that does not exist.
      const rejection = isAccountRejection(error) || error._tag === "StreamTombstoned"
      if (rejection && step.rejected !== undefined) return Effect.succeed(step.rejected(reasonOf(error)))
      if (rejection) {
        return Effect.fail(
          new Projection.ProjectionFailure({
            message:
              `${step.name} of transfer ${step.command.transferId} rejected by account ${step.command.accountId} (${error._tag}): a transfer invariant is broken`,
            cause: error
          })
        )
      }
      return Effect.fail(failure(`${step.name} on account ${step.command.accountId}`)(error))
    })
  )

/** Advances the transfer of `event` by one step, from its current state. */
export const handleEvent = Effect.fn("TransferProcess.handleEvent")(function*(event: RecordedEvent) {
  const transferId = yield* transferOf(event)
  const { state } = yield* Transfers.load(transferId).pipe(Effect.mapError(failure(`load of transfer ${transferId}`)))
  const at = Timestamp.fromEpochMillis(yield* Clock.currentTimeMillis)
  const step = nextStep(state, at)
  if (step === undefined) return
  yield* Effect.annotateCurrentSpan({ transferId, step: step.name })
  const options = dispatchOptionsFor(event)
  const record = yield* sendAccountCommand(step, options)
  yield* LedgerCommandBus.dispatch(record, options).pipe(
    Effect.mapError(failure(`${record._tag} on transfer ${transferId}`))
  )
  yield* Effect.logDebug("transfer step", { transferId, step: step.name, recorded: record._tag })
})

export const projection: Projection.Projection = Projection.make({
  name: NAME,
  version: 1,
  description: "Transfer process manager: debits, credits, settles or refunds the accounts of each transfer",
  // It acts (issues commands): the runtime refuses to rebuild or verify it by replaying history.
  sideEffects: true,
  categories: [TRANSFER_CATEGORY],
  // Every transfer event type, from the versions map (a new type is included with its first version).
  eventTypes: Object.keys(Transfer.TransferEventVersions),
  tables: [],
  migrate: () => Effect.void,
  apply: (events, context) =>
    isGenerationContext(context)
      ? Effect.forEach(events, handleEvent, { discard: true })
      : Effect.void
})
