/**
 * The Verity HTTP API contract: every group, the problem-details middleware for request validation, and
 * the strictness options (unknown fields in a body are rejected, every issue reported). Served by
 * Server.ts and documented by the generated OpenAPI 3.1 document (/openapi.json) and the docs UI (/docs).
 */
import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { AccountsApi } from "./accounts/Api.ts"
import { EventsApi } from "./events/Api.ts"
import { InboxesApi } from "./inboxes/Api.ts"
import { ProjectionsApi } from "./projections/Api.ts"
import { SubjectsApi } from "./subjects/Api.ts"
import { SystemApi } from "./system/Api.ts"
import { TransfersApi } from "./transfers/Api.ts"

export class VerityApi extends HttpApi.make("verity")
  .add(AccountsApi)
  .add(TransfersApi)
  .add(SubjectsApi)
  .add(ProjectionsApi)
  .add(InboxesApi)
  .add(EventsApi)
  .add(SystemApi)
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error", errors: "all" })
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({
    title: "Verity API",
    version: "1.0.0",
    description: "Event-sourced bank ledger on PostgreSQL. Amounts are integer minor units; ids are UUIDs. " +
      "Errors are RFC 9457 problem details. Authenticate with `Authorization: Bearer <token>`."
  }))
{}
