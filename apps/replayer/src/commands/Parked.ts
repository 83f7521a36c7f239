/**
 * `replayer parked|retry|skip`: inspect and release streams a projection (or the relay), or an inbox
 * (`fraud_watch`, with `NATS_URL`), parked after repeated failures. An inbox's are released through the
 * database (InboxControl), whichever process runs it.
 */
import { PgClient } from "@effect/sql-pg"
import { type Inbox, InboxControl, InboxStatusReader, RelayConfig } from "@verity/integration"
import { Projections } from "@verity/projections"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { OperationFailed, UsageError } from "../Failures.ts"
import * as Inboxes from "../Inboxes.ts"
import * as Runtime from "../Runtime.ts"

/** A projection of the runtime: the ledger's, and the relay when a broker is configured. */
const knownName = (name: string) =>
  Effect.gen(function*() {
    const relay = Option.isSome(yield* RelayConfig.broker) && name === RelayConfig.NAME
    if (relay || Runtime.allProjections.some((p) => p.name === name)) return name
    return yield* new UsageError({ message: `unknown projection "${name}"` })
  })

const projectionArg = Argument.String("projection").pipe(Argument.withDescription("Projection (or inbox) name"))
const streamArg = Argument.String("stream").pipe(Argument.withDescription("Parked stream id"))

export const parked = Command.make("parked", { projection: projectionArg }, ({ projection }) =>
  Effect.gen(function*() {
    const inbox = yield* Inboxes.find(projection)
    if (Option.isSome(inbox)) {
      const streams = yield* InboxStatusReader.parked(inbox.value.name).pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
      if (streams.length === 0) return yield* Console.log(`${inbox.value.name}: no parked streams`)
      for (const s of streams) {
        yield* Console.log(`${s.stream}  since ${s.parkedAt.toISOString()}  ${s.waitingMessages} waiting  at message ${s.messageId}: ${s.error}`)
      }
      return
    }
    const name = yield* knownName(projection)
    const projections = yield* Projections.Projections
    const rows = yield* projections.parked(name).pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
    if (rows.length === 0) return yield* Console.log(`${name}: no parked streams`)
    for (const row of rows) {
      yield* Console.log(
        `${row.stream}  since ${row.parkedAt.toISOString()}  ${row.waitingEvents} waiting  at ${row.eventType}@${row.position}: ${row.error}`
      )
    }
  }).pipe(Runtime.provide({ run: false }))).pipe(Command.withDescription("List the streams a projection parked"))

const release = (skip: boolean) =>
  Command.make(
    skip ? "skip" : "retry",
    {
      projection: projectionArg,
      stream: streamArg,
      by: Flag.String("by").pipe(Flag.withDescription("Operator name recorded with a skip"), Flag.withDefault("replayer"))
    },
    ({ by, projection, stream }) =>
      Effect.gen(function*() {
        const inbox = yield* Inboxes.find(projection)
        const projections = yield* Projections.Projections
        const pg = yield* PgClient.PgClient
        const fail = (e: { readonly _tag: string; readonly message: string }) =>
          Effect.fail(
            e._tag === "StreamNotParked" || e._tag === "UsageError"
              ? new UsageError({ message: e.message })
              : new OperationFailed({ message: e.message })
          )
        const outcome: Inbox.RetryOutcome = Option.isSome(inbox)
          ? yield* (skip ? InboxControl.skip(inbox.value.options, stream, by) : InboxControl.retry(inbox.value.options, stream)).pipe(
            Effect.provideService(PgClient.PgClient, pg),
            Effect.catch(fail)
          )
          : yield* Effect.flatMap(knownName(projection), (name) => skip ? projections.skip(name, stream, by) : projections.retry(name, stream)).pipe(
            Effect.catch(fail)
          )
        yield* Console.log(
          outcome.resumed
            ? `${stream}: resumed (${outcome.applied} applied, ${outcome.skipped} skipped)`
            : `${stream}: still parked after ${outcome.applied} applied: ${outcome.error}`
        )
        if (!outcome.resumed) return yield* new OperationFailed({ message: `${stream} is still parked` })
      }).pipe(Runtime.provide({ run: false }))
  ).pipe(
    Command.withDescription(
      skip ? "Dead-letter the failing event of a parked stream, then apply the rest" : "Apply a parked stream's waiting events again"
    )
  )

export const retry = release(false)
export const skip = release(true)
