/**
 * The open event feeds of this process, capped: a feed holds its connection for as long as the client
 * listens, outside the request slots (those are held only until the response starts), so feeds have their
 * own limit (`VERITY_API_MAX_FEEDS`); beyond it a new feed is answered 503 + Retry-After. When the layer
 * closes (the server stops) every feed ends cleanly, so a graceful shutdown does not wait on clients that
 * would listen forever; they reconnect with `Last-Event-ID` elsewhere. The counts are also what the tests
 * observe (feeds open, pages read).
 */
import { Context, Deferred, Effect, Layer } from "effect"
import { ApiConfig } from "../ApiConfig.ts"

export interface FeedStats {
  /** Feeds streaming now. */
  readonly active: number
  /** Feeds refused because the cap was reached. */
  readonly rejected: number
  /** Pages read from the database by every feed since start. */
  readonly pages: number
}

export class Feeds extends Context.Service<Feeds, {
  /** Takes a place for a new feed; false when every place is taken. */
  readonly tryAcquire: Effect.Effect<boolean>
  readonly release: Effect.Effect<void>
  /** Counts a page read by a feed. */
  readonly pageRead: Effect.Effect<void>
  readonly stats: Effect.Effect<FeedStats>
  /** Completes once `close` ran: feeds end then. */
  readonly closing: Effect.Effect<void>
  /** Ends every feed (the server is stopping). */
  readonly close: Effect.Effect<void>
}>()("@verity/api/Feeds") {
  static readonly make = (max: number) => {
    const stopping = Deferred.makeUnsafe<void>()
    let active = 0
    let rejected = 0
    let pages = 0
    return Feeds.of({
      tryAcquire: Effect.sync(() => {
        if (active >= max) {
          rejected++
          return false
        }
        active++
        return true
      }),
      release: Effect.sync(() => {
        active--
      }),
      pageRead: Effect.sync(() => {
        pages++
      }),
      stats: Effect.sync(() => ({ active, rejected, pages })),
      closing: Deferred.await(stopping),
      close: Deferred.succeed(stopping, undefined).pipe(Effect.asVoid)
    })
  }

  static readonly layer = Layer.effect(Feeds, Effect.map(ApiConfig, (config) => Feeds.make(config.maxFeeds)))

  /**
   * Ends every feed when released. Built after the server (see Server.ts), so it is released before the
   * server starts its graceful shutdown, which would otherwise wait for the feeds until its timeout.
   */
  static readonly closeOnShutdown = Layer.effectDiscard(Effect.gen(function*() {
    const feeds = yield* Feeds
    yield* Effect.addFinalizer(() => feeds.close)
  }))
}
