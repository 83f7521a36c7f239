/**
 * Handler of the reports group. The query schema only checks the shape of the days; here the range is
 * judged (real calendar days, `from` <= `to`, at most `MAX_SPAN_DAYS`), each refusal a 400 naming the
 * offending parameter, so a typo never reads as an empty report.
 */
import { LedgerReadModels } from "@verity/ledger"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { VerityApi } from "../Api.ts"
import * as Commands from "../Commands.ts"
import * as Problems from "../Problems.ts"
import * as ReadYourWrites from "../ReadYourWrites.ts"
import { MAX_SPAN_DAYS } from "./Api.ts"

const DAILY_TOTALS = "daily_totals"
const DAY_MILLIS = 86_400_000

const checkRange = (from: string, to: string) =>
  Effect.gen(function*() {
    const { isDay } = LedgerReadModels.DailyTotals
    if (!isDay(from)) return yield* Problems.badRequest(`invalid from: ${from} is not a calendar day`, ["query", "from"], "not a calendar day")
    if (!isDay(to)) return yield* Problems.badRequest(`invalid to: ${to} is not a calendar day`, ["query", "to"], "not a calendar day")
    const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MILLIS + 1
    if (days < 1) return yield* Problems.badRequest(`from (${from}) is after to (${to})`, ["query", "from"], "must not be after to")
    if (days > MAX_SPAN_DAYS) {
      return yield* Problems.badRequest(
        `the range spans ${days} days, at most ${MAX_SPAN_DAYS} are allowed`,
        ["query", "to"],
        `at most ${MAX_SPAN_DAYS} days after from`
      )
    }
  })

export const ReportsHttp = HttpApiBuilder.group(
  VerityApi,
  "reports",
  Effect.fn(function*(handlers) {
    const waitFor = yield* ReadYourWrites.make
    return handlers.handleAll({
      dailyTotals: ({ query }) =>
        Effect.gen(function*() {
          yield* checkRange(query.from, query.to)
          yield* waitFor(DAILY_TOTALS, query.waitForPosition)
          const days = yield* LedgerReadModels.DailyTotals.list({
            from: query.from,
            to: query.to,
            ...(query.currency === undefined ? {} : { currency: query.currency })
          }).pipe(Effect.catchTag("SqlError", Commands.sqlFailure))
          return { from: query.from, to: query.to, ...(query.currency === undefined ? {} : { currency: query.currency }), days }
        })
    })
  })
)
