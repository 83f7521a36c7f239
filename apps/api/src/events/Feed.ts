/**
 * The event feed's body: the store's live subscription of the global order (commit-safe, behind the
 * horizon, so no reader skips an event), rendered as Server-Sent Events, with a `: keep-alive` comment
 * every heartbeat. It is pulled, never pushed: one page is read from the database only when the previous
 * one was handed to the connection, and the connection takes more only as fast as the client reads, so a
 * slow client holds at most a page or two in memory. A database outage ends the stream cleanly (the
 * client resumes with `Last-Event-ID`); anything else is a defect and aborts the connection.
 *
 * Also here: the request's side of the feed, parsed and validated (filters, checkpoint) into 400 problems.
 */
import { Account, Transfer } from "@verity/domain"
import { PersonalData } from "@verity/eventstore"
import { Checkpoint, type EventStore, type RecordedEvent } from "@verity/eventstore"
import { LedgerStreams } from "@verity/ledger"
import { Cause, type Duration, Effect, Result, type Schema, Stream } from "effect"
import * as Outage from "../Outage.ts"
import * as Problems from "../Problems.ts"
import type { FeedEvent } from "./Api.ts"

// --- the request -------------------------------------------------------------------------------------------

/** Stream categories the ledger writes. */
export const categories: ReadonlyArray<string> = [
  LedgerStreams.ACCOUNT_CATEGORY,
  LedgerStreams.TRANSFER_CATEGORY,
  PersonalData.ERASURE_CATEGORY
]

/** Event types that can be stored: the current ones and every retired type an upcaster still reads. */
export const types: ReadonlyArray<string> = [
  ...new Set([
    ...LedgerStreams.storedAccountTypes(Object.keys(Account.AccountEventVersions)),
    ...Object.keys(Transfer.TransferEventVersions),
    PersonalData.ERASURE_EVENT
  ])
]

export interface FeedRequest {
  readonly from: Checkpoint.Checkpoint
  readonly categories?: ReadonlyArray<string>
  readonly types?: ReadonlyArray<string>
}

/** `?x=a&x=b` and `?x=a,b` alike; every value must be one of `known`. */
const filter = (name: string, values: ReadonlyArray<string> | undefined, known: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (values === undefined) return undefined
    const wanted = values.flatMap((value) => value.split(",")).map((value) => value.trim())
    for (const [index, value] of wanted.entries()) {
      if (!known.includes(value)) {
        return yield* Problems.badRequest(
          `unknown ${name} ${JSON.stringify(value.slice(0, 100))}`,
          ["query", name, index],
          `expected one of ${known.join(", ")}`
        )
      }
    }
    return [...new Set(wanted)]
  })

/** The feed a request asks for; `Last-Event-ID` wins over `?after=` (a reconnect resumes where it left). */
export const parseRequest = (input: {
  readonly category?: ReadonlyArray<string> | undefined
  readonly type?: ReadonlyArray<string> | undefined
  readonly after?: string | undefined
  readonly lastEventId?: string | undefined
}): Effect.Effect<FeedRequest, Problems.BadRequest> =>
  Effect.gen(function*() {
    const header = input.lastEventId?.trim()
    const fromHeader = header !== undefined && header !== ""
    const given = fromHeader ? header : input.after
    let from = Checkpoint.start
    if (given !== undefined) {
      const parsed = Checkpoint.parse(given)
      if (Result.isFailure(parsed)) {
        return yield* Problems.badRequest(
          "invalid checkpoint",
          fromHeader ? ["headers", "last-event-id"] : ["query", "after"],
          "expected the id of a message of this feed"
        )
      }
      from = parsed.success
    }
    const byCategory = yield* filter("category", input.category, categories)
    const byType = yield* filter("type", input.type, types)
    return {
      from,
      ...(byCategory === undefined ? {} : { categories: byCategory }),
      ...(byType === undefined ? {} : { types: byType })
    }
  })

// --- the body ----------------------------------------------------------------------------------------------

export interface FeedOptions {
  /** Events read from the database at once (one page). */
  readonly pageSize: number
  /** Interval of the `: keep-alive` comments. */
  readonly heartbeat: Duration.Input
  /** How often to look for new events when no commit wakes the feed (the store's default otherwise). */
  readonly pollInterval?: number
  /** Called once per page read from the database (instrumentation: the tests count pages pulled). */
  readonly onPage?: Effect.Effect<void>
}

const encoder = new TextEncoder()

/** One SSE message: the checkpoint as id, the stored type as event name, the event as one line of JSON. */
export const render = (event: RecordedEvent): string => {
  const data: typeof FeedEvent.Type = {
    eventId: event.eventId,
    streamId: event.streamId,
    version: event.version,
    position: event.position.toString(),
    type: event.type,
    schemaVersion: event.schemaVersion,
    recordedAt: event.recordedAt.toISOString(),
    metadata: event.metadata as Schema.Json,
    data: event.data as Schema.Json,
    erasedFields: event.erasedFields ?? []
  }
  // JSON.stringify escapes line breaks, so the data is one `data:` line; types and checkpoints have none.
  return `id: ${event.checkpoint}\nevent: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`
}

/** Sent first: it opens the body at once (the client sees the headers) and sets EventSource's retry delay. */
export const OPENING = encoder.encode("retry: 1000\n\n")
export const KEEP_ALIVE = encoder.encode(": keep-alive\n\n")
const ENDED = encoder.encode(": the database is unavailable; reconnect with Last-Event-ID\n\n")

/** The database could not serve a page: the stream ends and the client reconnects (503 until it is back). */
const isUnavailable = (cause: Cause.Cause<unknown>) =>
  Outage.inCause(cause) ||
  cause.reasons.some((reason) => Cause.isFailReason(reason) && (reason.error as { readonly _tag?: unknown })._tag === "StoreUnavailable")

/** The SSE body of a feed over `store` (the crypto-shredding store: personal data as its readers see it). */
export const body = (store: EventStore["Service"], request: FeedRequest, options: FeedOptions): Stream.Stream<Uint8Array> => {
  const events = store.subscribe({
    from: request.from,
    limit: options.pageSize,
    ...(request.categories === undefined ? {} : { categories: request.categories }),
    ...(request.types === undefined ? {} : { types: request.types }),
    ...(options.pollInterval === undefined ? {} : { pollInterval: options.pollInterval })
  }).pipe(
    Stream.tap(() => options.onPage ?? Effect.void),
    // One chunk per page: the page is the unit of buffering, whatever its number of events.
    Stream.filter((page) => page.events.length > 0),
    Stream.map((page) => encoder.encode(page.events.map(render).join(""))),
    Stream.catchCause((cause) =>
      isUnavailable(cause)
        ? Stream.fromEffect(Effect.as(Effect.logWarning("event feed ended: database unavailable", Cause.pretty(cause)), ENDED))
        : Stream.fromEffect(Effect.logError("event feed failed", cause)).pipe(Stream.drain, Stream.concat(Stream.die(Cause.squash(cause))))
    )
  )
  // The merge hands over one element at a time (no buffer), and ends when the events end.
  const heartbeats = Stream.tick(options.heartbeat).pipe(Stream.drop(1), Stream.map(() => KEEP_ALIVE))
  return Stream.make(OPENING).pipe(Stream.concat(Stream.merge(events, heartbeats, { haltStrategy: "left" })))
}
