/** `replayer status`: every projection's state, generation, lag and parked streams, then every inbox's (with `NATS_URL`). */
import { Projections } from "@verity/projections"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { OperationFailed } from "../Failures.ts"
import * as Inboxes from "../Inboxes.ts"
import * as Runtime from "../Runtime.ts"

const row = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()

export const render = (statuses: ReadonlyArray<Projections.ProjectionStatus>): string => {
  const header = ["PROJECTION", "STATE", "GEN", "LAG EVENTS", "LAG S", "PARKED", "REBUILDING", "OWNER"]
  const rows = statuses.map((s) => [
    s.name,
    s.state,
    String(s.active?.generation ?? "-"),
    s.active === undefined ? "-" : `${s.active.lagEvents}${s.active.lagCapped ? "+" : ""}`,
    s.active === undefined ? "-" : s.active.lagSeconds.toFixed(1),
    String(s.parkedStreams),
    s.building === undefined
      ? "-"
      : s.building.refusal !== null
      ? `g${s.building.generation} (switch refused)`
      : `g${s.building.generation} (${s.building.lagEvents} behind)`,
    s.active?.owner ?? "-"
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const held = statuses.flatMap((s) =>
    [s.active, s.building].flatMap((g) => {
      const by = g?.heldBackBy
      if (g === undefined || by === null || by === undefined) return []
      const age = by.ageSeconds === null ? "" : `, open ${by.ageSeconds.toFixed(1)} s`
      return [
        `${s.name} g${g.generation}: readers wait behind transaction ${by.transactionId} ` +
        `(pid ${by.pid}, application "${by.applicationName}", ${by.state}${age})`
      ]
    })
  )
  const refused = statuses.flatMap((s) => {
    const refusal = s.building?.refusal
    if (s.building === undefined || refusal === null || refusal === undefined) return []
    const tables = refusal.tables.map((t) => `${t.table}: ${t.differences} differing rows`).join(", ")
    return [`${s.name} g${s.building.generation}: switch refused, it differs from the events (${tables}); rebuild again, or rebuild --skip-verify`]
  })
  return [row(header, widths), ...rows.map((r) => row(r, widths)), ...held, ...refused].join("\n")
}

export const status = Command.make(
  "status",
  { json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON instead of a table"), Flag.withDefault(false)) },
  ({ json }) =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const statuses = yield* projections.status.pipe(Effect.mapError((e) => new OperationFailed({ message: e.message })))
      // The JSON stays the projections' array that scripts read; `replayer inboxes --json` has the inboxes.
      if (json) return yield* Console.log(JSON.stringify(statuses, null, 2))
      const inboxes = yield* Inboxes.status
      yield* Console.log(render(statuses))
      if (inboxes.length > 0) yield* Console.log("\n" + Inboxes.render(inboxes))
    }).pipe(Runtime.provide({ run: false }))
).pipe(Command.withDescription("Show every projection (state, generation, lag, parked streams, owner) and inbox (state, handled, lag, parked)"))

export const inboxes = Command.make(
  "inboxes",
  { json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON instead of a table"), Flag.withDefault(false)) },
  ({ json }) =>
    Effect.gen(function*() {
      const reports = yield* Inboxes.status
      if (json) return yield* Console.log(JSON.stringify(reports, null, 2))
      yield* Console.log(reports.length === 0 ? "no inboxes (they need NATS_URL, and VERITY_INBOX not off)" : Inboxes.render(reports))
    }).pipe(Runtime.provide({ run: false }))
).pipe(Command.withDescription("Show every inbox: state, handled, last broker sequence and store position, pending, lag, parked streams"))
