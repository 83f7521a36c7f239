/**
 * Handlers of the transfers group. A request checks what it can up front (both accounts open, same
 * currency, which also gives the transfer its currency) and records `TransferRequested`; the process
 * manager does the rest. The check is advisory: an account closing in between makes the saga fail
 * cleanly (nothing moved, or the debit refunded).
 */
import { Transfer } from "@verity/domain"
import { EventStore } from "@verity/eventstore"
import { LedgerReadModels, LedgerStreams } from "@verity/ledger"
import { Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiSchema } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import * as Commands from "../Commands.ts"
import * as History from "../History.ts"
import * as Problems from "../Problems.ts"
import * as ReadYourWrites from "../ReadYourWrites.ts"

const TRANSFERS = "transfers"

const openAccount = (accountId: string, role: "source" | "target") =>
  LedgerStreams.Accounts.load(accountId).pipe(
    Commands.loadFailure,
    Effect.flatMap(({ state }) =>
      state.status === "Open"
        ? Effect.succeed(state)
        : Effect.fail(
          new Problems.UnknownAccount({
            accountId,
            role,
            detail: `the ${role} account ${state.status === "Closed" ? "is closed" : "does not exist"}`
          })
        )
    )
  )

const historyEntries = History.entries(LedgerStreams.transferCodec)

export const TransfersHttp = HttpApiBuilder.group(
  VerityApi,
  "transfers",
  Effect.fn(function*(handlers) {
    const store = yield* EventStore
    const withStore = Effect.provideService(EventStore, store)
    const waitFor = yield* ReadYourWrites.make
    return handlers.handleAll({
      request: ({ payload }) =>
        Effect.gen(function*() {
          const source = yield* openAccount(payload.fromAccountId, "source")
          if (payload.toAccountId !== payload.fromAccountId) {
            const target = yield* openAccount(payload.toAccountId, "target")
            if (target.currency !== source.currency) {
              return yield* new Problems.CurrencyMismatch({
                accountId: payload.toAccountId,
                accountCurrency: target.currency,
                requestedCurrency: source.currency,
                detail: `the target account is in ${target.currency}, the source in ${source.currency}`
              })
            }
          }
          const transferId = Transfer.RequestTransfer.fields.transferId.make(crypto.randomUUID())
          const outcome = yield* Commands.runTransfer({
            _tag: "RequestTransfer",
            transferId,
            fromAccountId: payload.fromAccountId,
            toAccountId: payload.toAccountId,
            amount: payload.amount,
            currency: source.currency,
            at: yield* Commands.now
          })
          if (HttpServerResponse.isHttpServerResponse(outcome)) return outcome
          return HttpApiSchema.withHeaders({
            body: {
              transferId,
              version: outcome.version,
              ...(Option.isSome(outcome.position) ? { position: outcome.position.value.toString() } : {})
            },
            headers: { etag: Commands.etag(outcome.version), location: `/transfers/${transferId}` }
          })
        }).pipe(withStore),
      list: ({ query }) =>
        Effect.gen(function*() {
          yield* waitFor(TRANSFERS, query.waitForPosition)
          const page = yield* LedgerReadModels.Transfers.list({
            limit: query.limit ?? 50,
            ...(query.after === undefined ? {} : { after: query.after }),
            ...(query.status === undefined ? {} : { status: query.status })
          }).pipe(Effect.catchTag("SqlError", Commands.sqlFailure))
          return {
            items: page.items.map(({ failedStep, reason, ...rest }) => ({
              ...rest,
              ...(failedStep === undefined ? {} : { failedStep }),
              ...(reason === undefined ? {} : { reason })
            })),
            ...(page.next === undefined ? {} : { next: page.next })
          }
        }),
      get: ({ params }) =>
        Effect.gen(function*() {
          const loaded = yield* LedgerStreams.Transfers.load(params.id).pipe(Commands.loadFailure)
          if (loaded.version === 0) return yield* Problems.notFound("transfer", params.id)
          return HttpApiSchema.withHeaders({
            body: { transferId: params.id, version: loaded.version, state: loaded.state },
            headers: { etag: Commands.etag(loaded.version) }
          })
        }).pipe(withStore),
      history: ({ params, query }) =>
        Effect.gen(function*() {
          const stream = LedgerStreams.Transfers.streamOf(params.id)
          const limit = query.limit ?? 100
          const info = yield* store.streamInfo(stream).pipe(Commands.loadFailure)
          if (Option.isNone(info) || info.value.state !== "active") return yield* Problems.notFound("transfer", params.id)
          const events = yield* store.readStream(stream, {
            ...(query.fromVersion === undefined ? {} : { fromVersion: query.fromVersion }),
            maxCount: limit + 1
          }).pipe(Commands.loadFailure)
          const more = events[limit]
          return HttpApiSchema.withHeaders({
            body: {
              transferId: params.id,
              events: events.slice(0, limit).flatMap(historyEntries),
              ...(more === undefined ? {} : { nextFromVersion: more.version })
            },
            headers: { etag: Commands.etag(info.value.version) }
          })
        })
    })
  })
)
