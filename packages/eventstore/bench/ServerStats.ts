/**
 * Server-side counters around a measurement: WAL bytes written (the write amplification of an append,
 * independent of CPU noise) and whether a checkpoint ran (after a checkpoint every first change to a page
 * logs the full page, which inflates WAL and slows writes: a run that straddles one reads lower).
 * Both counters are server-wide: on a shared server, other databases' writes count too.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"

export interface Sample {
  readonly walBytes: number
  readonly checkpoints: number
}

export interface Delta {
  readonly walBytes: number
  readonly checkpoints: number
}

/** `X/Y` (two hex halves of a 64-bit WAL position) as a number of bytes (exact below 2^53). */
const lsnBytes = (lsn: string): number => {
  const [hi = "0", lo = "0"] = lsn.split("/")
  return Number((BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`))
}

/** A sampler for the server behind the `PgClient`; PostgreSQL 17 moved checkpoint counts to pg_stat_checkpointer. */
export const make = Effect.gen(function*() {
  const sql = (yield* PgClient.PgClient).withoutTransforms()
  const versionRows = yield* sql<{ readonly v: number }>`SELECT current_setting('server_version_num')::int4 AS v`
  const checkpoints = versionRows[0]!.v >= 170000
    ? sql.literal("(SELECT num_timed + num_requested FROM pg_stat_checkpointer)")
    : sql.literal("(SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)")
  return sql<{ readonly lsn: string; readonly checkpoints: bigint }>`
    SELECT pg_current_wal_lsn()::text AS lsn, ${checkpoints}::int8 AS checkpoints`.pipe(
    Effect.map((rows): Sample => ({ walBytes: lsnBytes(rows[0]!.lsn), checkpoints: Number(rows[0]!.checkpoints) })),
    // Counters are decoration: a failure to read them is a broken setup, not a result.
    Effect.orDie
  )
})

export const delta = (before: Sample, after: Sample): Delta => ({
  walBytes: after.walBytes - before.walBytes,
  checkpoints: after.checkpoints - before.checkpoints
})

export const none: Delta = { walBytes: 0, checkpoints: 0 }

export const add = (a: Delta, b: Delta): Delta => ({
  walBytes: a.walBytes + b.walBytes,
  checkpoints: a.checkpoints + b.checkpoints
})
