/**
 * The public endpoints: liveness, readiness (database, migrations, projections), the OpenAPI 3.1 document
 * (every endpoint present, bearer security declared) and the self-contained docs UI (no CDN).
 */
import { assert, layer } from "@effect/vitest"
import { forEachDatabase } from "@verity/postgres/testing"
import { Effect } from "effect"
import * as T from "./support/TestApi.ts"

const endpoints = [
  "post /accounts",
  "get /accounts",
  "get /accounts/{id}",
  "post /accounts/{id}/deposits",
  "post /accounts/{id}/withdrawals",
  "put /accounts/{id}/holder",
  "post /accounts/{id}/freeze",
  "post /accounts/{id}/unfreeze",
  "post /accounts/{id}/close",
  "put /accounts/{id}/overdraft",
  "get /accounts/{id}/events",
  "get /accounts/{id}/state",
  "post /transfers",
  "get /transfers/{id}",
  "post /subjects/{subjectId}/forget",
  "get /projections",
  "post /projections/{name}/rebuild",
  "get /projections/{name}/parked",
  "post /projections/{name}/parked/{stream}/retry",
  "post /projections/{name}/parked/{stream}/skip",
  "get /inboxes",
  "get /inboxes/{name}/parked",
  "post /inboxes/{name}/parked/{stream}/retry",
  "post /inboxes/{name}/parked/{stream}/skip",
  "get /events",
  "get /health",
  "get /ready"
]

forEachDatabase((target) => {
  layer(T.layer(target), { excludeTestServices: true, timeout: "120 seconds" })("system", (it) => {
    it.effect("health answers without a token", () =>
      Effect.gen(function*() {
        const reply = yield* T.request("GET", "/health")
        assert.strictEqual(reply.status, 200)
        assert.deepStrictEqual(reply.body, { status: "ok" })
        assert.isString(reply.headers.get("x-request-id"))
      }))

    it.effect("ready once the database answers, migrations ran and every projection runs", () =>
      Effect.gen(function*() {
        let reply = yield* T.request("GET", "/ready")
        // Projection runners start within a discovery interval of the server.
        for (let i = 0; i < 100 && reply.status !== 200; i++) {
          yield* Effect.sleep("100 millis")
          reply = yield* T.request("GET", "/ready")
        }
        assert.strictEqual(reply.status, 200, reply.text)
        assert.strictEqual(reply.body.status, "ready")
        assert.isTrue(reply.body.checks.database)
        assert.isTrue(reply.body.checks.migrations)
        for (const name of ["account_summary", "transfer_process"]) assert.property(reply.body.checks.projections, name)
      }))

    it.effect("the OpenAPI 3.1 document lists every endpoint and the bearer scheme", () =>
      Effect.gen(function*() {
        const reply = yield* T.request("GET", "/openapi.json")
        assert.strictEqual(reply.status, 200)
        const spec = reply.body
        assert.match(spec.openapi, /^3\.1\./)
        const listed = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
          Object.keys(ops).filter((m) => ["get", "post", "put", "delete", "patch"].includes(m)).map((m) => `${m} ${path}`)
        )
        for (const endpoint of endpoints) assert.include(listed, endpoint)
        assert.strictEqual(listed.length, endpoints.length, `unexpected endpoints: ${listed.join(", ")}`)
        const schemes = Object.values(spec.components.securitySchemes as Record<string, { type: string; scheme?: string }>)
        assert.isTrue(schemes.some((s) => s.type === "http" && s.scheme?.toLowerCase() === "bearer"))
        const deposit = spec.paths["/accounts/{id}/deposits"].post
        assert.property(deposit.responses, "412")
        assert.property(deposit.responses, "422")
        // The inboxes: status for scope read, release for scope admin, their errors documented.
        const inboxRetry = spec.paths["/inboxes/{name}/parked/{stream}/retry"].post
        for (const status of ["404", "503"]) assert.property(inboxRetry.responses, status)
        assert.property(spec.paths["/inboxes"].get.responses, "503")
        const feed = spec.paths["/events"].get
        assert.property(feed.responses["200"].content, "text/event-stream")
        assert.property(feed.responses, "400")
        assert.includeMembers(feed.parameters.map((p: { name: string }) => p.name), ["category", "type", "after", "last-event-id"])
      }))

    it.effect("the docs UI is one self-contained page (no CDN)", () =>
      Effect.gen(function*() {
        const reply = yield* T.request("GET", "/docs")
        assert.strictEqual(reply.status, 200)
        assert.match(reply.headers.get("content-type") ?? "", /text\/html/)
        assert.include(reply.text, "Verity API")
        assert.notMatch(reply.text, /<script[^>]+src=["']https?:/)
      }))
  })
})
