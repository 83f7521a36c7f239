/**
 * OpenTelemetry export over OTLP/HTTP (JSON) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (e.g.
 * http://localhost:4318): the spans of every request (the HTTP server span, `CommandHandler.handle`,
 * `EventStore.append`, SQL), plus logs and metrics. `OTEL_SERVICE_NAME` names the service (default
 * verity-api). Without the endpoint nothing is exported and tracing costs nearly nothing.
 */
import { Config, Effect, Layer, Option } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp } from "effect/observability"

export const layer = Layer.unwrap(Effect.gen(function*() {
  const endpoint = yield* Config.String("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.option)
  if (Option.isNone(endpoint) || endpoint.value === "") return Layer.empty
  const serviceName = yield* Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault("verity-api"))
  yield* Effect.logInfo(`exporting traces over OTLP to ${endpoint.value}`)
  return Otlp.layerJson({ baseUrl: endpoint.value, resource: { serviceName, serviceVersion: "1.0.0" } }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
}))
