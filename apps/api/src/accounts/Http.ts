/**
 * Handlers of the accounts group. Commands go through the ledger's command bus to the account command handler (queued and batched
 * per account, decided in order, appended together, conflicts with other processes retried within a budget); queries read the account summary read model, the stream itself (history)
 * or a fold of the stream up to a version or instant (time travel). No response of a command carries
 * personal data: recorded idempotent responses must stay free of it after a holder is forgotten.
 */
import { Account, type Money } from "@verity/domain"
import { EventStore, type RecordedEvent } from "@verity/eventstore"
import { LedgerReadModels, LedgerStreams } from "@verity/ledger"
import { Projections } from "@verity/projections"
import { Duration, Effect, Option, Result, type Schema } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiSchema } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import { ApiConfig } from "../ApiConfig.ts"
import * as Commands from "../Commands.ts"
import * as Problems from "../Problems.ts"
import type { HistoryEvent } from "./Api.ts"

const ACCOUNT_SUMMARY = "account_summary"
const Accounts = LedgerStreams.Accounts

/**
 * Account currencies, remembered once seen: a currency never changes after opening, so deposits and
 * withdrawals (whose commands name it) skip a second load of the stream on the hot path.
 */
const makeCurrencies = (capacity: number) => {
  const known = new Map<string, Money.Currency>()
  const remember = (accountId: string, currency: Money.Currency) => {
    if (known.size >= capacity) known.delete(known.keys().next().value!)
    known.set(accountId, currency)
  }
  const of = (accountId: string) =>
    Effect.suspend(() => {
      const cached = known.get(accountId)
      if (cached !== undefined) return Effect.succeed(Option.some(cached))
      return Accounts.load(accountId).pipe(
        Effect.map(({ state }) => {
          if (state.status !== "Open") return Option.none<Money.Currency>()
          remember(accountId, state.currency)
          return Option.some(state.currency)
        })
      )
    })
  return { of, remember }
}

const withETag = (accountId: string, outcome: Commands.Outcome) =>
  HttpApiSchema.withHeaders({
    body: {
      accountId,
      version: outcome.version,
      ...(Option.isSome(outcome.position) ? { position: outcome.position.value.toString() } : {})
    },
    headers: { etag: Commands.etag(outcome.version) }
  })

/** Turns a command outcome into the typed response (or passes a ready 412 response through). */
const respond = (accountId: string) => (outcome: Commands.Outcome | HttpServerResponse.HttpServerResponse) =>
  HttpServerResponse.isHttpServerResponse(outcome) ? outcome : withETag(accountId, outcome)

/** One stored event as history entries at current versions (several when an upcaster splits it). */
const historyEntries = (event: RecordedEvent): ReadonlyArray<typeof HistoryEvent.Type> => {
  const common = {
    version: event.version,
    position: event.position.toString(),
    eventId: event.eventId,
    recordedAt: event.recordedAt.toISOString(),
    metadata: event.metadata as Schema.Json,
    erasedFields: event.erasedFields ?? []
  }
  const stored = { type: event.type, schemaVersion: event.schemaVersion }
  const upcast = LedgerStreams.accountCodec.upcast(event, event)
  if (Result.isFailure(upcast)) {
    return [{ ...common, ...stored, data: event.data as Schema.Json, upcastError: upcast.failure.message }]
  }
  return upcast.success.map((piece) => ({
    ...common,
    type: piece.type,
    schemaVersion: piece.schemaVersion,
    data: piece.data as Schema.Json,
    ...(piece.type === event.type && piece.schemaVersion === event.schemaVersion ? {} : { storedAs: stored })
  }))
}

export const AccountsHttp = HttpApiBuilder.group(
  VerityApi,
  "accounts",
  Effect.fn(function*(handlers) {
    const config = yield* ApiConfig
    const store = yield* EventStore
    const projections = yield* Projections.Projections
    const currencies = makeCurrencies(100_000)
    // Handlers run per request: give them the store captured here.
    const withStore = Effect.provideService(EventStore, store)

    /** Deposit and withdrawal name the account's currency: the caller's, checked by the domain, or the account's. */
    const moneyCommand = <T extends "Deposit" | "Withdraw">(
      tag: T,
      accountId: Account.Deposit["accountId"],
      payload: { readonly amount: Money.Amount; readonly currency?: Money.Currency | undefined },
      ifMatch: string | undefined
    ) =>
      Effect.gen(function*() {
        const expectedVersion = yield* Commands.parseIfMatch(ifMatch)
        const currency = payload.currency ?? Option.getOrUndefined(yield* currencies.of(accountId).pipe(Commands.loadFailure))
        if (currency === undefined) return yield* Problems.notFound("account", accountId)
        const at = yield* Commands.now
        const command = { _tag: tag, accountId, amount: payload.amount, currency, at } as Account.Deposit | Account.Withdraw
        return respond(accountId)(yield* Commands.runAccount(command, expectedVersion, config.conflictAttempts))
      }).pipe(withStore)

    const simple = (
      accountId: Account.Deposit["accountId"],
      ifMatch: string | undefined,
      make: (at: Account.Deposit["at"]) => Account.AccountCommand
    ) =>
      Effect.gen(function*() {
        const expectedVersion = yield* Commands.parseIfMatch(ifMatch)
        const command = make(yield* Commands.now)
        return respond(accountId)(yield* Commands.runAccount(command, expectedVersion, config.conflictAttempts))
      }).pipe(withStore)

    return handlers.handleAll({
      open: ({ payload }) =>
        Effect.gen(function*() {
          const accountId = Account.OpenAccount.fields.accountId.make(crypto.randomUUID())
          const at = yield* Commands.now
          const outcome = yield* Commands.runAccount(
            { _tag: "OpenAccount", accountId, ...payload, at },
            undefined,
            config.conflictAttempts
          )
          if (HttpServerResponse.isHttpServerResponse(outcome)) return outcome
          currencies.remember(accountId, payload.currency)
          const response = withETag(accountId, outcome)
          return HttpApiSchema.withHeaders({
            body: response.body,
            headers: { ...response.headers, location: `/accounts/${accountId}` }
          })
        }).pipe(withStore),
      deposit: ({ headers, params, payload }) => moneyCommand("Deposit", params.id, payload, headers["if-match"]),
      withdraw: ({ headers, params, payload }) => moneyCommand("Withdraw", params.id, payload, headers["if-match"]),
      updateHolder: ({ headers, params, payload }) =>
        simple(params.id, headers["if-match"], (at) => ({ _tag: "UpdateHolderDetails", accountId: params.id, ...payload, at })),
      freeze: ({ headers, params, payload }) =>
        simple(params.id, headers["if-match"], (at) => ({ _tag: "FreezeAccount", accountId: params.id, reason: payload.reason, at })),
      unfreeze: ({ headers, params }) => simple(params.id, headers["if-match"], (at) => ({ _tag: "UnfreezeAccount", accountId: params.id, at })),
      close: ({ headers, params }) => simple(params.id, headers["if-match"], (at) => ({ _tag: "CloseAccount", accountId: params.id, at })),
      setOverdraftLimit: ({ headers, params, payload }) =>
        simple(params.id, headers["if-match"], (at) => ({ _tag: "SetOverdraftLimit", accountId: params.id, limit: payload.limit, at })),

      get: ({ params, query }) =>
        Effect.gen(function*() {
          // Position 0 is before the first event: every read model has reached it, there is nothing to wait for.
          if (query.waitForPosition !== undefined && BigInt(query.waitForPosition) > 0n) {
            const position = query.waitForPosition
            yield* projections.waitFor(ACCOUNT_SUMMARY, BigInt(position), config.readYourWritesTimeout).pipe(
              Effect.catchTags({
                WaitTimedOut: () =>
                  Effect.fail(
                    new Problems.ProjectionNotCaughtUp({
                      projection: ACCOUNT_SUMMARY,
                      position,
                      detail: `the account summary has not reached position ${position} within ${
                        Duration.format(config.readYourWritesTimeout)
                      }; retry`
                    })
                  ),
                StoreUnavailable: Commands.unavailable,
                UnknownProjection: Effect.die,
                ProjectionsError: Effect.die
              })
            )
          }
          const row = yield* LedgerReadModels.AccountSummary.get(params.id).pipe(Effect.catchTag("SqlError", Commands.sqlFailure))
          if (Option.isNone(row)) return yield* Problems.notFound("account", params.id)
          return HttpApiSchema.withHeaders({ body: row.value, headers: { etag: Commands.etag(row.value.version) } })
        }),

      list: ({ query }) =>
        LedgerReadModels.AccountSummary.list({
          limit: query.limit ?? 50,
          ...(query.after === undefined ? {} : { after: query.after })
        }).pipe(
          Effect.map((page) => ({ items: page.items, ...(page.next === undefined ? {} : { next: page.next }) })),
          Effect.catchTag("SqlError", Commands.sqlFailure)
        ),

      history: ({ params, query }) =>
        Effect.gen(function*() {
          const stream = Accounts.streamOf(params.id)
          const limit = query.limit ?? 100
          const info = yield* store.streamInfo(stream).pipe(Commands.loadFailure)
          if (Option.isNone(info) || info.value.state !== "active") return yield* Problems.notFound("account", params.id)
          const events = yield* store.readStream(stream, {
            ...(query.fromVersion === undefined ? {} : { fromVersion: query.fromVersion }),
            maxCount: limit + 1
          }).pipe(Commands.loadFailure)
          const page = events.slice(0, limit)
          const more = events[limit]
          return HttpApiSchema.withHeaders({
            body: {
              accountId: params.id,
              events: page.flatMap(historyEntries),
              ...(more === undefined ? {} : { nextFromVersion: more.version })
            },
            headers: { etag: Commands.etag(info.value.version) }
          })
        }),

      stateAt: ({ params, query }) =>
        Effect.gen(function*() {
          if (query.version !== undefined && query.at !== undefined) {
            return yield* Problems.badRequest("give either version or at, not both", ["query"], "version and at are exclusive")
          }
          let asOf: Date | undefined
          if (query.at !== undefined) {
            asOf = new Date(query.at)
            if (Number.isNaN(asOf.getTime())) {
              return yield* Problems.badRequest("invalid at", ["query", "at"], "expected an ISO 8601 instant")
            }
          }
          const info = yield* store.streamInfo(Accounts.streamOf(params.id)).pipe(Commands.loadFailure)
          if (Option.isNone(info) || info.value.state !== "active") return yield* Problems.notFound("account", params.id)
          const loaded = yield* Accounts.loadAt(params.id, {
            ...(query.version === undefined ? {} : { version: query.version }),
            ...(asOf === undefined ? {} : { asOf })
          }).pipe(Commands.loadFailure)
          return HttpApiSchema.withHeaders({
            body: { accountId: params.id, version: loaded.version, state: loaded.state },
            headers: { etag: Commands.etag(loaded.version) }
          })
        }).pipe(withStore)
    })
  })
)
