/**
 * One active consumer per inbox name across processes: a lease row in `verity_inbox.leases` (owner, a fresh
 * fencing token per acquisition, expiry by the database's clock, so processes' clocks never matter).
 *
 * A process takes the lease when there is none or it has expired, renews it in the background, and gives
 * it back when its scope closes (a standby takes over at its next try, not after the expiry). Expiry alone
 * does not stop a paused holder from writing: the handling transaction checks the token (InboxStore.claim,
 * `FOR SHARE`, so a take-over waits for that transaction to end), and a holder whose token was replaced
 * commits nothing more. This is a lease rather than a session advisory lock so that the token can be
 * checked on the pool's ordinary connections, inside the handler's own transaction.
 */
import type { PgClient } from "@effect/sql-pg"
import { Duration, Effect } from "effect"
import { SCHEMA } from "./InboxSchema.ts"

export interface LeaseRow {
  readonly owner: string
  readonly expires_at: Date
  readonly live: boolean
}

export const make = (pg: PgClient.PgClient, consumer: string, ttl: Duration.Duration) => {
  const t = pg(`${SCHEMA}.leases`)
  const seconds = Duration.toMillis(ttl) / 1000

  /** True when `token` now holds the lease (there was none, or it had expired). */
  const acquire = (owner: string, token: string) =>
    Effect.map(
      pg<{ readonly token: string }>`
        INSERT INTO ${t} AS l (consumer, owner, token, expires_at)
        VALUES (${consumer}, ${owner}, ${token}, now() + make_interval(secs => ${seconds}))
        ON CONFLICT (consumer) DO UPDATE SET owner = EXCLUDED.owner, token = EXCLUDED.token, acquired_at = now(),
          expires_at = EXCLUDED.expires_at
        WHERE l.expires_at < now()
        RETURNING token`,
      (rows) => rows.length > 0
    )

  /** Extends the lease; false when `token` no longer holds it. */
  const renew = (token: string) =>
    Effect.map(
      pg<{ readonly one: number }>`
        UPDATE ${t} SET expires_at = now() + make_interval(secs => ${seconds})
        WHERE consumer = ${consumer} AND token = ${token} RETURNING 1 AS one`,
      (rows) => rows.length > 0
    )

  const release = (token: string) => pg`DELETE FROM ${t} WHERE consumer = ${consumer} AND token = ${token}`.pipe(Effect.asVoid)

  const current = Effect.map(
    pg<LeaseRow>`SELECT owner, expires_at, expires_at > now() AS live FROM ${t} WHERE consumer = ${consumer}`,
    (rows) => rows[0]
  )

  return { acquire, renew, release, current }
}

export type Lease = ReturnType<typeof make>

export interface KeepOptions {
  readonly owner: string
  readonly ttl: Duration.Duration
  /** How often a standby tries to take the lease. */
  readonly retry: Duration.Duration
  readonly onChange: (active: boolean) => Effect.Effect<void>
}

/**
 * Waits until the lease is this process's, then runs `body` with its token until `body` ends or the lease
 * is lost (renewal found another token: `body` is interrupted); gives the lease back in every case.
 */
export const keep = <E, R>(lease: Lease, options: KeepOptions, body: (token: string) => Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    const token = crypto.randomUUID()
    while (!(yield* lease.acquire(options.owner, token).pipe(Effect.orElseSucceed(() => false)))) {
      yield* Effect.sleep(options.retry)
    }
    const interval = Duration.millis(Math.max(10, Duration.toMillis(options.ttl) / 3))
    // A failed renewal (database down) keeps trying: the token check still fences every commit.
    const lost = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(interval)
        const held = yield* lease.renew(token).pipe(Effect.orElseSucceed(() => true))
        if (!held) return yield* Effect.logWarning("inbox lease lost", { owner: options.owner })
      }
    })
    yield* options.onChange(true)
    yield* Effect.raceFirst(body(token), lost).pipe(
      Effect.ensuring(Effect.andThen(lease.release(token).pipe(Effect.ignore), options.onChange(false)))
    )
  })
