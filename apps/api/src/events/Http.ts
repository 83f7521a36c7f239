/**
 * Handler of the event feed. Before the response starts: the request is validated (400), a place among
 * the open feeds is taken (503 + Retry-After when none is free) and the database is asked for its horizon
 * (503 when it is away), so a refusal is always a plain problem and never a stream that ends at once.
 * Then the body streams (Feed.ts) until the client leaves, the database goes away or the server stops;
 * the feed's place is given back when the body ends, however it ends.
 */
import { EventStore } from "@verity/eventstore"
import { Effect, Stream } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import { ApiConfig } from "../ApiConfig.ts"
import * as Commands from "../Commands.ts"
import * as Limits from "../Limits.ts"
import * as Feed from "./Feed.ts"
import { Feeds } from "./Feeds.ts"

export const EventsHttp = HttpApiBuilder.group(
  VerityApi,
  "events",
  Effect.fn(function*(handlers) {
    const config = yield* ApiConfig
    const store = yield* EventStore
    const feeds = yield* Feeds

    return handlers.handle("feed", ({ headers, query }) =>
      Effect.gen(function*() {
        const request = yield* Feed.parseRequest({ ...query, lastEventId: headers["last-event-id"] })
        if (!(yield* feeds.tryAcquire)) {
          return Limits.overloaded(`every event feed is taken (${config.maxFeeds}); retry shortly`)
        }
        yield* store.horizon.pipe(
          Effect.catchTag("StoreUnavailable", Commands.unavailable),
          Effect.onError(() => feeds.release)
        )
        const body = Feed.body(store, request, {
          pageSize: config.feedPageSize,
          heartbeat: config.feedHeartbeat,
          onPage: feeds.pageRead
        })
        return HttpServerResponse.stream(body.pipe(Stream.interruptWhen(feeds.closing), Stream.ensuring(feeds.release)), {
          contentType: "text/event-stream",
          // No caching, and no buffering by proxies that honour it (nginx): events must flow as they come.
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
        })
      }))
  })
)
