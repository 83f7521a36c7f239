/**
 * Handlers of the inboxes group. The inboxes may run in the projection worker thread, so nothing here
 * touches a running inbox: status comes from `verity_inbox` and the broker (InboxStatusReader), a retry
 * or skip runs the inbox's handler in one transaction that locks the parked stream (InboxControl).
 * Unknown inbox or a stream that is not parked: 404; database away: 503.
 */
import { PgClient } from "@effect/sql-pg"
import { type Inbox, InboxControl, InboxStatusReader } from "@verity/integration"
import { LedgerInboxes } from "@verity/ledger"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import { Principal } from "../Auth.ts"
import * as Outage from "../Outage.ts"
import * as Problems from "../Problems.ts"

const unavailable = (error: Inbox.InboxError) =>
  Effect.logWarning("inbox operation failed", error.message).pipe(
    Effect.andThen(Effect.fail(new Problems.ServiceUnavailable({ detail: Outage.DETAIL })))
  )

const parkedStream = (s: Inbox.ParkedStream) => ({ ...s, parkedAt: s.parkedAt.toISOString() })

const outcome = (o: Inbox.RetryOutcome) => ({
  resumed: o.resumed,
  applied: o.applied,
  skipped: o.skipped,
  ...(o.error === undefined ? {} : { error: o.error })
})

export const InboxesHttp = HttpApiBuilder.group(
  VerityApi,
  "inboxes",
  Effect.fn(function*(handlers) {
    const inboxes = yield* Effect.orDie(LedgerInboxes.configured)
    const withPg = Effect.provideService(PgClient.PgClient, yield* PgClient.PgClient)
    const find = (name: string): Effect.Effect<LedgerInboxes.LedgerInbox, Problems.NotFound> => {
      const inbox = inboxes.find((i) => i.name === name)
      return inbox === undefined ? Effect.fail(Problems.notFound("inbox", name)) : Effect.succeed(inbox)
    }
    const release = (name: string, stream: string, skipBy: string | undefined) =>
      find(name).pipe(
        Effect.flatMap((inbox) =>
          skipBy === undefined ? InboxControl.retry(inbox.options, stream) : InboxControl.skip(inbox.options, stream, skipBy)
        ),
        withPg,
        Effect.map(outcome),
        Effect.catchTag("StreamNotParked", (e) => Effect.fail(Problems.notFound("parked stream", e.stream))),
        Effect.catchTag("InboxError", unavailable)
      )
    return handlers.handleAll({
      status: () =>
        Effect.forEach(inboxes, (inbox) => InboxStatusReader.read(inbox.options), { concurrency: "unbounded" }).pipe(
          withPg,
          Effect.map((reports) =>
            reports.map((r) => ({
              ...r,
              filterSubject: r.filterSubject ?? null,
              brokerError: r.brokerError ?? null,
              lastSeq: r.lastSeq ?? null,
              lastPosition: r.lastPosition ?? null,
              lastStream: r.lastStream ?? null,
              lastHandledAt: r.lastHandledAt?.toISOString() ?? null,
              pending: r.pending ?? null,
              ackPending: r.ackPending ?? null,
              lagSeconds: r.lagSeconds ?? null,
              parked: r.parked.map(parkedStream)
            }))
          ),
          Effect.catchTag("InboxError", unavailable)
        ),
      parked: ({ params }) =>
        find(params.name).pipe(
          Effect.flatMap((inbox) => InboxStatusReader.parked(inbox.name)),
          withPg,
          Effect.map((streams) => streams.map(parkedStream)),
          Effect.catchTag("InboxError", unavailable)
        ),
      retry: ({ params }) => release(params.name, params.stream, undefined),
      skip: ({ params }) => Effect.flatMap(Principal, (principal) => release(params.name, params.stream, principal.name))
    })
  })
)
