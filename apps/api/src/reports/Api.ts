/**
 * The reports contract (scope read): aggregates read from the ledger's read models. `GET
 * /reports/daily-totals` answers the `daily_totals` read model: per UTC day and currency, the sums that
 * moved and how many movements there were, for an inclusive range of days of at most a year.
 */
import { Money } from "@verity/domain"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Authorization } from "../Auth.ts"
import * as Problems from "../Problems.ts"
import { WaitForPosition } from "../ReadYourWrites.ts"

/** The longest range one request may ask for, in days (both ends included). */
export const MAX_SPAN_DAYS = 366

/** A calendar day written `YYYY-MM-DD` (UTC); the handler checks it is a real day (no 2026-02-30). */
export const Day = Schema.String.check(Schema.isPattern(/^\d{4}-\d{2}-\d{2}$/, { expected: "a day written YYYY-MM-DD" }))

export const DailyTotal = Schema.Struct({
  /** `YYYY-MM-DD` (UTC, of the movements' business time). */
  day: Schema.String,
  currency: Schema.String,
  /** Sums in minor units, all positive. */
  deposits: Schema.Int,
  withdrawals: Schema.Int,
  transfersIn: Schema.Int,
  transfersOut: Schema.Int,
  refunds: Schema.Int,
  /** How many money movements the day had in this currency. */
  movements: Schema.Int
}).annotate({ identifier: "DailyTotal" })

export const DailyTotals = Schema.Struct({
  from: Schema.String,
  to: Schema.String,
  currency: Schema.optionalKey(Schema.String),
  /** Oldest day first, then by currency; days without movements are absent. */
  days: Schema.Array(DailyTotal)
}).annotate({ identifier: "DailyTotals" })

export class ReportsApi extends HttpApiGroup.make("reports")
  .add(
    HttpApiEndpoint.get("dailyTotals", "/reports/daily-totals", {
      query: {
        from: Day.annotate({ description: "First day, inclusive (YYYY-MM-DD, UTC)" }),
        to: Day.annotate({ description: `Last day, inclusive (YYYY-MM-DD, UTC); at most ${MAX_SPAN_DAYS} days from \`from\`` }),
        currency: Schema.optional(Money.Currency).annotate({ description: "Only this currency (ISO 4217, e.g. EUR)" }),
        waitForPosition: WaitForPosition
      },
      success: DailyTotals,
      error: [Problems.BadRequest, Problems.ProjectionNotCaughtUp, Problems.ServiceUnavailable, Problems.InternalError]
    }).annotateMerge(OpenApi.annotations({
      summary: "Money moved per day and currency",
      description: "Per UTC day and currency, from the `daily_totals` read model: deposits, withdrawals, transfers " +
        "in and out, refunds (sums in minor units) and the number of movements. 400: `from` or `to` is not a real " +
        `day, \`from\` is after \`to\`, the range spans more than ${MAX_SPAN_DAYS} days, or \`currency\` is not three ` +
        "capital letters. 503 ProjectionNotCaughtUp: `waitForPosition` was not reached in time."
    }))
  )
  .middleware(Authorization)
  .annotateMerge(OpenApi.annotations({
    title: "Reports",
    description: "Aggregates over the ledger's read models (scope read)."
  }))
{}
