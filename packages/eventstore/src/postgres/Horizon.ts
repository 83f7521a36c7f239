/**
 * The visibility horizon of the global order: readers read events whose order key is below it, so a
 * transaction that commits late can never be skipped. It depends only on transactions that append events
 * to this store, never on unrelated transactions of the server (another database's, a long report's).
 *
 * Why it is safe:
 * - Every appender holds a `RowExclusiveLock` on the events table from before it is given a transaction id
 *   until it ends. A single append statement takes the lock when it starts and its id when it writes; a
 *   transaction of several statements announces itself first (`announce`: `LOCK TABLE ... IN ROW EXCLUSIVE
 *   MODE` while it has no id yet, and a transaction-local setting the guard reads).
 * - An append in a transaction that took its id before announcing itself is refused (`guard`, SQLSTATE
 *   V0001): readers could not have seen it coming, so it could commit below a horizon they already passed.
 * - The horizon of a statement is the least of its snapshot's `xmax` and the ids of its snapshot's running
 *   transactions that may append: every one except those shown by `pg_locks` (read once, after the
 *   snapshot was taken) as owned by a backend that does not hold the lock and still running. So a
 *   transaction holds the horizon back when it holds the lock now; when no owner shows for its id (the id
 *   was published to snapshots a moment before its lock, or it is ending); or when it ended since the
 *   snapshot (it may have appended events this statement cannot see; at its end its fast-path relation
 *   lock is released before its id's lock). `pg_xact_status` is evaluated after `pg_locks` was read
 *   (inside a CASE, after the lock checks), so an appender that ended in between is counted as ended. Each
 *   of these only delays one read, never skips.
 * - An appender with no id yet will be given one above the snapshot's `xmax`.
 * - Events carry an order key, not their own transaction id: the greatest of the writer's id and the key of
 *   the stream's previous append, so one stream's versions keep their order in the global order. A key is
 *   never below its writer's id, so the argument above covers it.
 */
import type { SqlClient } from "effect/sql/SqlClient"
import type * as Statement from "effect/sql/Statement"

export interface HorizonSql {
  /** `SELECT horizon, snapshot`: one row; `horizon` is an `xid8`. */
  readonly row: Statement.Fragment
  /** `SELECT ok`: true when this transaction may append now; raises V0001 otherwise. */
  readonly guard: Statement.Fragment
  /** Announces the current transaction as an appender: run it first (before anything writes). */
  readonly announce: Statement.Statement<object>
  /**
   * Who holds readers back behind `horizon`: the backend of that transaction, when it still runs and is a
   * known appender. Columns: pid, application_name, state, xact_start.
   */
  readonly holder: (horizon: Statement.Fragment) => Statement.Fragment
}

/** Name of the transaction-local setting that records an announced appender of `schema`. */
export const appenderSetting = (schema: string) => `verity.appender_${schema}`

export const make = (sql: SqlClient, schema: string): HorizonSql => {
  const setting = appenderSetting(schema)
  // pg_locks reports 32-bit xids; snapshots 64-bit ones. The low 32 bits identify a running transaction.
  const appenders = sql`
    SELECT t.transactionid::text::int8 AS xid32, t.pid
    FROM pg_locks r
    JOIN pg_locks t ON t.virtualtransaction = r.virtualtransaction
      AND t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock' AND t.granted
    WHERE r.locktype = 'relation' AND r.granted AND r.mode = 'RowExclusiveLock'
      AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND r.relation = ${`${schema}.events`}::regclass`
  // One read of pg_locks (captured whole at its first row, before any pg_xact_status call below): who owns
  // each running transaction id, and which of those owners hold the events table's lock.
  const row = sql`
    WITH locks AS MATERIALIZED (
      SELECT l.locktype, l.virtualtransaction, l.transactionid::text::int8 AS xid32, l.relation, l.database, l.mode, l.granted
      FROM pg_locks l
    ), owners AS MATERIALIZED (
      SELECT o.xid32, o.virtualtransaction FROM locks o
      WHERE o.locktype = 'transactionid' AND o.mode = 'ExclusiveLock' AND o.granted
    ), appending AS MATERIALIZED (
      SELECT o.xid32 FROM owners o
      JOIN locks r ON r.virtualtransaction = o.virtualtransaction
      WHERE r.locktype = 'relation' AND r.granted AND r.mode = 'RowExclusiveLock'
        AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND r.relation = ${`${schema}.events`}::regclass
    )
    SELECT least(pg_snapshot_xmax(s.snap), (
        SELECT min(x) FROM pg_snapshot_xip(s.snap) x
        WHERE CASE
          WHEN (x::text::int8 % 4294967296) IN (SELECT a.xid32 FROM appending a) THEN true
          -- No owner shows yet (the id is being assigned) or any more (it is ending): it may append.
          WHEN (x::text::int8 % 4294967296) NOT IN (SELECT o.xid32 FROM owners o) THEN true
          ELSE pg_xact_status(x) IS DISTINCT FROM 'in progress'
        END
      )) AS horizon
    FROM (SELECT pg_current_snapshot() AS snap) s`
  const guard = sql`
    SELECT CASE
      WHEN pg_current_xact_id_if_assigned() IS NULL OR current_setting(${setting}, true) = 'on' THEN true
      ELSE ${sql(`${schema}.refuse_late_append`)}()
    END AS ok`
  const announce = sql<object>`SELECT ${sql(`${schema}.announce_appender`)}()`
  const holder = (horizon: Statement.Fragment) =>
    sql`
      SELECT a.pid, a.application_name, a.state, a.xact_start
      FROM pg_stat_activity a
      WHERE a.pid IN (SELECT ap.pid FROM (${appenders}) ap WHERE ap.xid32 = (${horizon})::text::int8 % 4294967296)
      LIMIT 1`
  return { row, guard, announce, holder }
}
