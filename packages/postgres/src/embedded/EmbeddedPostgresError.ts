/**
 * Why the embedded PostgreSQL could not be provided, as one typed error whose `reason` says which step
 * failed; `detail` is the human-readable account (with the server's own message or log tail when there is
 * one), and it is the error's `message`.
 */
import { Effect, Schema } from "effect"

export const EmbeddedPostgresFailure = Schema.Literals([
  /** The kernel gave no free loopback port. */
  "NoFreePort",
  /** As root: no `postgres` system user could be found or created. */
  "NoServerUser",
  /** As root: the folders on the way to the data folder could not be opened to the server's user. */
  "PathNotTraversable",
  /** The platform's PostgreSQL binaries are not installed (or could not be copied where the server's user reaches them). */
  "BinariesMissing",
  /** The data folder's start lock could not be taken (held by another process too long, or a file error). */
  "LockUnavailable",
  /** initdb failed on a new data folder. */
  "InitialiseFailed",
  /** The server did not start (it exited, or was not ready within 60 s). */
  "StartFailed",
  /** A live server holds the data folder but does not answer. */
  "NotAnswering",
  /** A restart found no cluster in the data folder any more. */
  "ClusterGone"
])
export type EmbeddedPostgresFailure = typeof EmbeddedPostgresFailure.Type

export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  reason: EmbeddedPostgresFailure,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message() {
    return this.detail
  }
}

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** Runs one step of managing the server; a rejection becomes an `EmbeddedPostgresError` of `reason`. */
export const attempt = <A>(reason: EmbeddedPostgresFailure, what: string, f: () => Promise<A>) =>
  Effect.tryPromise({
    try: f,
    catch: (cause) => new EmbeddedPostgresError({ reason, detail: `${what}: ${describe(cause)}`, cause })
  })
