/**
 * The whole API in process, over real HTTP: the server layer (edge, routes, middleware) on an ephemeral
 * port, the ledger runtime with its projections on a brand-new database of a test target, fixed tokens,
 * and a small fetch-based client that returns status, headers and the parsed body, so tests see exactly
 * what a client sees (including malformed requests the typed client could not even send).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { MasterKeys } from "@verity/eventstore"
import { TestDatabase, type TestTarget } from "@verity/postgres/testing"
import { ConfigProvider, Duration, Effect, Layer, References } from "effect"
import { HttpServer } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import { ApiConfig, type ApiSettings } from "../../src/ApiConfig.ts"
import { Tokens } from "../../src/Auth.ts"
import * as AppRuntime from "../../src/Runtime.ts"
import * as Server from "../../src/Server.ts"

export const tokens = {
  alice: "alice-token-0123456789",
  reader: "reader-token-0123456789",
  ops: "ops-token-0123456789abc",
  writer: "writer-token-0123456789"
} as const

export const testTokens = Tokens.layerTest([
  { name: "alice", token: tokens.alice, scopes: ["read", "write"] },
  { name: "reader", token: tokens.reader, scopes: ["read"] },
  { name: "ops", token: tokens.ops, scopes: ["read", "write", "admin"] },
  { name: "writer", token: tokens.writer, scopes: ["write"] }
])

/** Quick polling: read models follow within tens of milliseconds. */
export const fast = { pollInterval: "50 millis", discoveryInterval: "200 millis" } as const

export const masterKeyConfig = () => ConfigProvider.layer(ConfigProvider.fromUnknown({ VERITY_MASTER_KEYS: MasterKeys.generate("test1") }))

/** The API on a fresh database of `target`, listening on an ephemeral port. */
export const layer = (target: TestTarget, settings: Partial<ApiSettings> = {}) => layerWith(target, settings, Layer.empty)

/** The same with `decorate` between the runtime and the server (e.g. a store that can be made to fail). */
export const layerWith = <A, R>(target: TestTarget, settings: Partial<ApiSettings>, decorate: Layer.Layer<A, never, R>) =>
  Server.layer.pipe(
    Layer.provide(decorate),
    Layer.provideMerge(AppRuntime.layerWithoutDatabase({ projectionOptions: { ...fast, owner: "api-test" } })),
    Layer.provideMerge(testTokens),
    Layer.provideMerge(ApiConfig.layerTest({ readYourWritesTimeout: Duration.seconds(1), ...settings })),
    Layer.provideMerge(TestDatabase.layer(target, { maxConnections: 24 })),
    Layer.provide(masterKeyConfig()),
    // Request lines would drown the test output; warnings and errors still show.
    Layer.provide(Layer.succeed(References.MinimumLogLevel, "Warn")),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

export interface Reply {
  readonly status: number
  readonly headers: Headers
  /**
   * Parsed JSON when the body is JSON, the text otherwise. Deliberately `any`: tests probe response
   * bodies field by field, and a field of the wrong shape fails its assertion; typing every response here
   * would only restate the API's schemas.
   */
  // oxlint-disable-next-line typescript/no-explicit-any
  readonly body: any
  readonly text: string
}

/** One element of a JSON body, as loosely typed as `Reply.body` (and for the same reason). */
export type Json = Reply["body"]

export interface RequestOptions {
  readonly token?: string | undefined
  /** Sent as JSON. */
  readonly json?: unknown
  /** Sent as is (malformed JSON, huge bodies). */
  readonly raw?: string | Uint8Array
  readonly headers?: Record<string, string>
}

export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => HttpServer.formatAddress(server.address))

/** One HTTP request to the test server, as a client would send it. */
export const request = (method: string, path: string, options: RequestOptions = {}) =>
  Effect.gen(function*() {
    const url = (yield* baseUrl) + path
    return yield* Effect.promise(() => send(url, method, options))
  })

export const send = async (url: string, method: string, options: RequestOptions = {}): Promise<Reply> => {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
  let body: string | Uint8Array | undefined
  if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers["content-type"] ??= "application/json"
  } else if (options.raw !== undefined) {
    body = options.raw
    headers["content-type"] ??= "application/json"
  }
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) })
  const text = await response.text()
  let parsed: unknown = text
  const type = response.headers.get("content-type") ?? ""
  if (type.includes("json") && text !== "") parsed = JSON.parse(text)
  return { status: response.status, headers: response.headers, body: parsed, text }
}

/** Shorthands with a token. */
export const as = (token: string) => ({
  get: (path: string, headers?: Record<string, string>) => request("GET", path, { token, ...(headers ? { headers } : {}) }),
  post: (path: string, json?: unknown, headers?: Record<string, string>) =>
    request("POST", path, { token, ...(json === undefined ? {} : { json }), ...(headers ? { headers } : {}) }),
  put: (path: string, json?: unknown, headers?: Record<string, string>) =>
    request("PUT", path, { token, ...(json === undefined ? {} : { json }), ...(headers ? { headers } : {}) })
})

export const alice = as(tokens.alice)
export const ops = as(tokens.ops)
export const reader = as(tokens.reader)

let counter = 0
/** Opens an account through the API and returns its id. */
export const openAccount = (currency = "EUR", holderName = `Holder ${++counter}`, holderEmail = `holder${counter}@example.com`) =>
  Effect.gen(function*() {
    const reply = yield* alice.post("/accounts", { holderName, holderEmail, currency })
    if (reply.status !== 201) throw new Error(`open failed: ${reply.status} ${reply.text}`)
    return reply.body.accountId as string
  })

export const deposit = (accountId: string, amount: number) =>
  Effect.gen(function*() {
    const reply = yield* alice.post(`/accounts/${accountId}/deposits`, { amount })
    if (reply.status !== 200) throw new Error(`deposit failed: ${reply.status} ${reply.text}`)
    return reply.body as { accountId: string; version: number; position: string }
  })

/** Every event in the store (a count that must not move when requests are refused). */
export const eventCount = Effect.gen(function*() {
  const sql = yield* SqlClient
  const rows = yield* sql<{ readonly n: bigint }>`SELECT count(*) AS n FROM verity.events`
  return Number(rows[0]?.n ?? 0)
}).pipe(Effect.orDie)

/** Asserts the RFC 9457 shape every error has; returns the body (`any`, as `Reply.body`) for further checks. */
export const isProblem = (reply: Reply, status: number, title?: string): Reply["body"] => {
  if (reply.status !== status) throw new Error(`expected ${status}, got ${reply.status}: ${reply.text}`)
  if (!(reply.headers.get("content-type") ?? "").startsWith("application/problem+json")) {
    throw new Error(`expected problem+json, got ${reply.headers.get("content-type")}: ${reply.text}`)
  }
  const body = reply.body as { type?: unknown; title?: unknown; status?: unknown; detail?: unknown }
  if (typeof body.type !== "string" || typeof body.title !== "string" || body.status !== status || typeof body.detail !== "string") {
    throw new Error(`not a complete problem: ${reply.text}`)
  }
  if (title !== undefined && body.title !== title) throw new Error(`expected title ${title}, got ${String(body.title)}`)
  return body
}
