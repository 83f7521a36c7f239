/**
 * The ledger's inboxes for the replayer's commands: their status as a table (from `verity_inbox` and the
 * broker, so it works whichever process runs them) and the lookup of an inbox by name for `parked`,
 * `retry` and `skip`. Without `NATS_URL` (or with `VERITY_INBOX=off`) there are none.
 */
import { InboxStatusReader } from "@verity/integration"
import { LedgerInboxes } from "@verity/ledger"
import { Effect, Option } from "effect"
import { OperationFailed } from "./Failures.ts"

const row = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()

export const render = (reports: ReadonlyArray<InboxStatusReader.InboxReport>): string => {
  const header = ["INBOX", "STATE", "HANDLED", "LAST SEQ", "LAST POSITION", "PENDING", "LAG S", "PARKED", "STREAM"]
  const rows = reports.map((r) => [
    r.name,
    r.state,
    String(r.handled),
    r.lastSeq === undefined ? "-" : String(r.lastSeq),
    r.lastPosition ?? "-",
    r.pending === undefined ? "-" : String(r.pending + (r.ackPending ?? 0)),
    r.lagSeconds === undefined ? "-" : r.lagSeconds.toFixed(1),
    String(r.parkedStreams),
    `${r.stream} ${r.filterSubject ?? ""}`.trim()
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((cells) => cells[i]!.length)))
  const notes = reports.flatMap((r) => r.brokerError === undefined ? [] : [`${r.name}: broker unavailable: ${r.brokerError}`])
  return [row(header, widths), ...rows.map((cells) => row(cells, widths)), ...notes].join("\n")
}

/** Every configured inbox's status (empty without a broker). */
export const status = Effect.gen(function*() {
  const inboxes = yield* LedgerInboxes.configured.pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
  return yield* Effect.forEach(inboxes, (inbox) => InboxStatusReader.read(inbox.options), { concurrency: "unbounded" }).pipe(
    Effect.mapError((e) => new OperationFailed({ message: e.message }))
  )
}).pipe(Effect.withSpan("Replayer.inboxStatus"))

/** The configured inbox named `name`, if any. */
export const find = (name: string) =>
  Effect.map(
    LedgerInboxes.configured.pipe(Effect.mapError((e) => new OperationFailed({ message: e.message }))),
    (inboxes) => Option.fromNullishOr(inboxes.find((i) => i.name === name))
  )
