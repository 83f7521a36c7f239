/**
 * The PostgreSQL implementation of `EventStore` on `@effect/sql-pg`, composed of one module per concern:
 * `Append` (one statement per append, a compare-and-set on the stream's row plus the insert of all events;
 * concurrent appends grouped into one statement by `GroupCommit`),
 * `StreamReads`, `GlobalOrder` (commit-safe reads of the global order behind the horizon, subscriptions),
 * `Lifecycle` (delete, tombstone, truncate), `Snapshots`, `Transactions`, and `Notifications` (wake-ups
 * in this process right after commit, a throttled NOTIFY for others; polling is the safety net). All of them
 * share `Tables`, and decide what is valid and which error a refusal reports by `StoreRules`, as the
 * in-memory store does.
 */
import { PgClient } from "@effect/sql-pg"
import { type Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { EventStore } from "../EventStore.ts"
import * as EventValidation from "../EventValidation.ts"
import * as Migrations from "../Migrations.ts"
import * as Append from "./Append.ts"
import * as GlobalOrder from "./GlobalOrder.ts"
import type * as GroupCommit from "./GroupCommit.ts"
import * as Lifecycle from "./Lifecycle.ts"
import * as Notifications from "./Notifications.ts"
import * as Snapshots from "./Snapshots.ts"
import * as StreamReads from "./StreamReads.ts"
import * as Tables from "./Tables.ts"
import * as Transactions from "./Transactions.ts"

export interface PgEventStoreOptions {
  /** PostgreSQL schema holding the store's tables (default `verity`). */
  readonly schema?: string
  readonly limits?: Partial<EventValidation.Limits>
  /** LISTEN for other processes' commits and NOTIFY ours (default true). */
  readonly notifications?: boolean
  /** At most one NOTIFY per this interval (default 5 ms). */
  readonly notifyInterval?: Duration.Input
  /** Run the store's migrations when the layer starts (default true). */
  readonly migrate?: boolean
  /**
   * Group commit (default on): concurrent appends of this process are written together, one statement and
   * one transaction per group, each checked and answered on its own (`GroupCommit.ts`). `false` writes
   * every append alone.
   */
  readonly groupCommit?: boolean | GroupCommit.GroupCommitOptions
}

export const make = (options: PgEventStoreOptions = {}) =>
  Effect.gen(function*() {
    const pg = yield* PgClient.PgClient
    const schema = options.schema ?? "verity"
    if (!Migrations.SCHEMA_PATTERN.test(schema)) {
      return yield* Effect.die(new Error(`invalid event store schema name: ${schema}`))
    }
    const limits: EventValidation.Limits = { ...EventValidation.defaultLimits, ...options.limits }
    const tables = Tables.make(pg, schema)
    if (options.migrate !== false) {
      yield* Migrations.run(schema).pipe(Effect.provideService(SqlClient, tables.sql))
    }
    const notifications = yield* Notifications.make(pg, schema, {
      enabled: options.notifications !== false,
      interval: options.notifyInterval ?? "5 millis"
    })
    return EventStore.of({
      ...Append.make(
        tables,
        limits,
        notifications.onCommit,
        options.groupCommit === false ? false : options.groupCommit === true ? {} : options.groupCommit ?? {}
      ),
      ...StreamReads.make(tables),
      ...GlobalOrder.make(tables, notifications.committed),
      ...Transactions.make(tables),
      ...Lifecycle.make(tables),
      ...Snapshots.make(tables)
    })
  })

/** The store on the `PgClient` in context. Runs migrations on start unless `migrate: false`. */
export const layer = (options: PgEventStoreOptions = {}) => Layer.effect(EventStore, make(options))
