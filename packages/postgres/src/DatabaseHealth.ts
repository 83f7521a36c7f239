/**
 * Whether this process still has a database, as the watchdog of `Database.resolve` sees it: `Up`,
 * `Recovering` (the embedded server died and is being restarted; the reason says why), or `Unrecoverable`
 * (restarting failed for good, or the data folder is gone). `unrecoverable` fails once the process has given
 * up, so an entry point can exit non-zero and let a supervisor start it afresh; it never completes otherwise.
 * On a configured server (`DATABASE_URL`) there is nothing to restart: pools reconnect when it is back, and
 * the state stays `Up` (readiness probes the server itself).
 */
import { Context, Effect, Schema } from "effect"

export type DatabaseState =
  | { readonly _tag: "Up" }
  | { readonly _tag: "Recovering"; readonly reason: string; readonly attempts: number; readonly since: number }
  | { readonly _tag: "Unrecoverable"; readonly reason: string }

/** This process gave up on its database; `message` says why. */
export class DatabaseUnrecoverable extends Schema.TaggedError<DatabaseUnrecoverable>()("DatabaseUnrecoverable", {
  message: Schema.String
}) {}

export class DatabaseHealth extends Context.Service<DatabaseHealth, {
  readonly state: Effect.Effect<DatabaseState>
  /** Fails with the reason once this process cannot get its database back; never completes otherwise. */
  readonly unrecoverable: Effect.Effect<never, DatabaseUnrecoverable>
}>()("@verity/postgres/DatabaseHealth") {
  /** For a database this process does not manage: always `Up`, never gives up. */
  static readonly external = DatabaseHealth.of({ state: Effect.succeed({ _tag: "Up" }), unrecoverable: Effect.never })
}
