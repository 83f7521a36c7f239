/**
 * The transfers read model's batch handler, set-based. A batch is folded in memory into one patch per
 * transfer: its details when it was requested in this batch, and the status, failed step, reason, stream
 * version and business time of its last event (the decider only records legal steps, in stream order, so
 * the last event alone says the status). Then at most two statements: an INSERT of the transfers requested
 * in the batch (their final row) and an UPDATE ... FROM unnest(...) of the others.
 */
import { PgTypes } from "@effect/sql-pg"
import type { Transfer } from "@verity/domain"
import type { RecordedEvent } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Effect, Result } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { transferCodec } from "../Streams.ts"

export type Status = Exclude<Transfer.TransferStatus, "NotRequested">

interface Patch {
  readonly transferId: string
  requested:
    | {
      readonly fromAccountId: string
      readonly toAccountId: string
      readonly amount: number
      readonly currency: string
      readonly at: number
      readonly position: bigint
    }
    | undefined
  status: Status
  failedStep: "Debit" | "Credit" | undefined
  reason: string | undefined
  version: number
  updatedAt: number
}

/** What each transfer event does to its patch (every stored transfer type is read). */
const step = (patch: Patch, event: Transfer.TransferEvent, recorded: RecordedEvent) => {
  patch.version = recorded.version
  patch.updatedAt = event.at
  switch (event._tag) {
    case "TransferRequested":
      patch.requested = {
        fromAccountId: event.fromAccountId,
        toAccountId: event.toAccountId,
        amount: event.amount,
        currency: event.currency,
        at: event.at,
        position: recorded.position
      }
      patch.status = "Requested"
      return
    case "SourceAccountDebited":
      patch.status = "Debited"
      return
    case "SourceDebitRejected":
      patch.status = "Failed"
      patch.failedStep = "Debit"
      patch.reason = event.reason
      return
    case "TargetAccountCredited":
      patch.status = "Credited"
      return
    case "TargetCreditRejected":
      patch.status = "Refunding"
      patch.reason = event.reason
      return
    case "SourceAccountRefunded":
      patch.status = "Failed"
      patch.failedStep = "Credit"
      return
    case "TransferCompleted":
      patch.status = "Completed"
      return
  }
}

export const fold = (events: ReadonlyArray<RecordedEvent>): Result.Result<Map<string, Patch>, Projection.ProjectionFailure> => {
  const patches = new Map<string, Patch>()
  for (const recorded of events) {
    const decoded = transferCodec.decodeResult(recorded)
    if (Result.isFailure(decoded)) {
      return Result.fail(new Projection.ProjectionFailure({ message: decoded.failure.message, cause: decoded.failure }))
    }
    for (const event of decoded.success) {
      let patch = patches.get(event.transferId)
      if (patch === undefined) {
        patch = {
          transferId: event.transferId,
          requested: undefined,
          status: "Requested",
          failedStep: undefined,
          reason: undefined,
          version: 0,
          updatedAt: 0
        }
        patches.set(event.transferId, patch)
      }
      step(patch, event, recorded)
    }
  }
  return Result.succeed(patches)
}

const array = (values: ReadonlyArray<unknown>, oid: number) => Result.getOrThrow(PgTypes.array([...values], oid))
const uuids = (values: ReadonlyArray<string>) => array(values, PgTypes.OID.uuid)
const texts = (values: ReadonlyArray<string | null>) => array(values, PgTypes.OID.text)
const int8s = (values: ReadonlyArray<number | bigint>) => array(values.map((v) => BigInt(v)), PgTypes.OID.int8)
const int4s = (values: ReadonlyArray<number>) => array(values, PgTypes.OID.int4)
const instants = (values: ReadonlyArray<number>) => array(values, PgTypes.OID.timestamptz)

export const apply = (events: ReadonlyArray<RecordedEvent>, ctx: Projection.TablesContext) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const folded = fold(events)
    if (Result.isFailure(folded)) return yield* folded.failure
    const patches = [...folded.success.values()]
    const table = ctx.table("transfers")
    const opened = patches.filter((p) => p.requested !== undefined)
    const changed = patches.filter((p) => p.requested === undefined)
    if (opened.length > 0) {
      yield* sql`
        INSERT INTO ${table} (transfer_id, from_account_id, to_account_id, amount, currency, status, failed_step, reason,
          version, requested_position, requested_at, updated_at)
        SELECT * FROM unnest(
          ${uuids(opened.map((p) => p.transferId))}::uuid[],
          ${uuids(opened.map((p) => p.requested!.fromAccountId))}::uuid[],
          ${uuids(opened.map((p) => p.requested!.toAccountId))}::uuid[],
          ${int8s(opened.map((p) => p.requested!.amount))}::int8[],
          ${texts(opened.map((p) => p.requested!.currency))}::text[],
          ${texts(opened.map((p) => p.status))}::text[],
          ${texts(opened.map((p) => p.failedStep ?? null))}::text[],
          ${texts(opened.map((p) => p.reason ?? null))}::text[],
          ${int4s(opened.map((p) => p.version))}::int4[],
          ${int8s(opened.map((p) => p.requested!.position))}::int8[],
          ${instants(opened.map((p) => p.requested!.at))}::timestamptz[],
          ${instants(opened.map((p) => p.updatedAt))}::timestamptz[]
        )`
    }
    if (changed.length === 0) return
    const updated = yield* sql<{ readonly transfer_id: string }>`
      UPDATE ${table} AS t SET status = u.status,
        failed_step = coalesce(u.failed_step, t.failed_step),
        reason = coalesce(u.reason, t.reason),
        version = u.version,
        updated_at = u.updated_at
      FROM unnest(
        ${uuids(changed.map((p) => p.transferId))}::uuid[],
        ${texts(changed.map((p) => p.status))}::text[],
        ${texts(changed.map((p) => p.failedStep ?? null))}::text[],
        ${texts(changed.map((p) => p.reason ?? null))}::text[],
        ${int4s(changed.map((p) => p.version))}::int4[],
        ${instants(changed.map((p) => p.updatedAt))}::timestamptz[]
      ) AS u(transfer_id, status, failed_step, reason, version, updated_at)
      WHERE t.transfer_id = u.transfer_id
      RETURNING t.transfer_id::text AS transfer_id`
    if (updated.length !== changed.length) {
      const found = new Set(updated.map((row) => row.transfer_id))
      const missing = changed.find((p) => !found.has(p.transferId))
      return yield* new Projection.ProjectionFailure({ message: `transfer ${missing?.transferId} moved on before it was requested` })
    }
  })
