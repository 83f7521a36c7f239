/**
 * The HTTP application: the API's routes (handlers + their middleware), the OpenAPI document at
 * /openapi.json, the self-contained docs UI at /docs (Scalar, inlined: no CDN), and the edge middleware,
 * served by whatever `HttpServer` is provided (Node in main.ts, an ephemeral port in tests). Needs the
 * ledger runtime (Runtime.ts), `ApiConfig` and `Tokens`.
 */
import { Effect, Layer, Option, Redacted } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware, HttpApiScalar } from "effect/http-api"
import { AccountsHttp } from "./accounts/Http.ts"
import { VerityApi } from "./Api.ts"
import * as Auth from "./Auth.ts"
import * as Edge from "./Edge.ts"
import { Feeds } from "./events/Feeds.ts"
import { EventsHttp } from "./events/Http.ts"
import * as Idempotency from "./Idempotency.ts"
import { InboxesHttp } from "./inboxes/Http.ts"
import { ProjectionsHttp } from "./projections/Http.ts"
import * as Ranges from "./Ranges.ts"
import { SubjectsHttp } from "./subjects/Http.ts"
import { SystemHttp } from "./system/Http.ts"
import { TransfersHttp } from "./transfers/Http.ts"

export const ApiRoutes = HttpApiBuilder.layer(VerityApi, { openapiPath: "/openapi.json" }).pipe(
  Layer.provide([AccountsHttp, TransfersHttp, SubjectsHttp, ProjectionsHttp, InboxesHttp, SystemHttp, EventsHttp]),
  Layer.provide([Auth.layer, Idempotency.layer, HttpApiMiddleware.layerProblemDetails({ includeDetails: true })])
)

export const DocsRoute = HttpApiScalar.layer(VerityApi, { path: "/docs" })

const serve = HttpRouter.serve(Layer.mergeAll(ApiRoutes, DocsRoute, Edge.layer), {
  // The router's default (100) would answer 404 to ids and stream names the schemas accept.
  routerConfig: { maxParamLength: Ranges.MAX_PATH_SEGMENT },
  // The edge writes one access-log line per request, with the request id; the banner says where we listen.
  disableLogger: true,
  disableListenLog: true
})

/**
 * Routes + docs + edge, served on the provided `HttpServer`; also gives the open event feeds (`Feeds`),
 * which end first on shutdown (before the server waits for requests in flight).
 */
export const layer = Feeds.closeOnShutdown.pipe(Layer.provideMerge(serve), Layer.provideMerge(Feeds.layer))

/** Prints where the API listens and, in development, the generated token. */
export const banner = Layer.effectDiscard(Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const tokens = yield* Auth.Tokens
  const url = HttpServer.formatAddress(server.address)
  yield* Effect.logInfo(`Verity API listening on ${url}`).pipe(Effect.annotateLogs({ url, docs: `${url}/docs` }))
  const lines = [`Verity API: ${url}`, `API docs:   ${url}/docs`, `OpenAPI:    ${url}/openapi.json`]
  if (Option.isSome(tokens.developmentToken)) {
    lines.push(
      "",
      "DEVELOPMENT ONLY: no VERITY_API_TOKENS configured, so this process generated a token with every scope",
      "(read, write, admin). It changes on every start. Configure real tokens for anything but local use:",
      "  VERITY_API_TOKENS=\"alice:<token>:read,write;ops:<token>:read,write,admin\"",
      `Development token: ${Redacted.value(tokens.developmentToken.value)}`,
      `  curl -H "Authorization: Bearer ${Redacted.value(tokens.developmentToken.value)}" ${url}/accounts`
    )
  }
  // The banner is for the human who started the server: stdout, outside the structured log stream.
  yield* Effect.sync(() => process.stdout.write(lines.join("\n") + "\n"))
}))
