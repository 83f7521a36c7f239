/**
 * Handlers of the transfers group. A request checks what it can up front (both accounts open, same
 * currency, which also gives the transfer its currency) and records `TransferRequested`; the process
 * manager does the rest. The check is advisory: an account closing in between makes the saga fail
 * cleanly (nothing moved, or the debit refunded).
 */
import { Transfer } from "@verity/domain"
import { EventStore } from "@verity/eventstore"
import { LedgerStreams } from "@verity/ledger"
import { Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiSchema } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import * as Commands from "../Commands.ts"
import * as Problems from "../Problems.ts"

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

export const TransfersHttp = HttpApiBuilder.group(
  VerityApi,
  "transfers",
  Effect.fn(function*(handlers) {
    const withStore = Effect.provideService(EventStore, yield* EventStore)
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
      get: ({ params }) =>
        Effect.gen(function*() {
          const loaded = yield* LedgerStreams.Transfers.load(params.id).pipe(Commands.loadFailure)
          if (loaded.version === 0) return yield* Problems.notFound("transfer", params.id)
          return HttpApiSchema.withHeaders({
            body: { transferId: params.id, version: loaded.version, state: loaded.state },
            headers: { etag: Commands.etag(loaded.version) }
          })
        }).pipe(withStore)
    })
  })
)
