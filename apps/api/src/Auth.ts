/**
 * Bearer tokens with scopes. Tokens come from `VERITY_API_TOKENS` as `name:token:scope,scope;...`
 * (scopes: read, write, admin), e.g. `alice:s3cret:read,write;ops:t0ken:read,write,admin`. The token's
 * name is the actor recorded in event metadata and scopes idempotency keys. With no tokens configured a
 * random development token with every scope is generated and printed at startup (never for production).
 * Endpoints declare the scope they need with the `RequiredScope` annotation on their group.
 */
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import { ApiConfig } from "./ApiConfig.ts"
import { Forbidden, Unauthorized } from "./Problems.ts"

export const scopes = ["read", "write", "admin"] as const
export type Scope = (typeof scopes)[number]

export interface PrincipalShape {
  readonly name: string
  readonly scopes: ReadonlySet<Scope>
}

/** Who is calling: provided to handlers by the `Authorization` middleware. */
export class Principal extends Context.Service<Principal, PrincipalShape>()("@verity/api/Principal") {}

/** Annotation on a group or endpoint: the scope a caller needs (default "read"). */
export class RequiredScope extends Context.Service<RequiredScope, Scope>()("@verity/api/RequiredScope") {}

export class Authorization extends HttpApiMiddleware.Service<Authorization, { provides: Principal }>()(
  "@verity/api/Authorization",
  { security: { bearer: HttpApiSecurity.bearer }, error: [Unauthorized, Forbidden] }
) {}

export interface TokenEntry extends PrincipalShape {
  readonly token: Redacted.Redacted
}

/** `VERITY_API_TOKENS` is malformed; `message` names the bad entry (never a token). */
export class InvalidTokenConfig extends Schema.TaggedError<InvalidTokenConfig>()("InvalidTokenConfig", {
  message: Schema.String
}) {}

const isScope = (value: string): value is Scope => (scopes as ReadonlyArray<string>).includes(value)

/** Parses `name:token:scope,scope;...`; fails with `InvalidTokenConfig` naming the bad entry. */
export const parseTokens = (text: string): Effect.Effect<ReadonlyArray<TokenEntry>, InvalidTokenConfig> =>
  Effect.gen(function*() {
    const entries = text.split(";").map((s) => s.trim()).filter((s) => s !== "")
    const names = new Set<string>()
    const parsed: Array<TokenEntry> = []
    for (const [index, entry] of entries.entries()) {
      const invalid = (message: string) => new InvalidTokenConfig({ message })
      const [name, token, scopeList, ...rest] = entry.split(":")
      if (name === undefined || token === undefined || scopeList === undefined || rest.length > 0) {
        return yield* invalid(`VERITY_API_TOKENS entry #${index + 1} is not name:token:scopes`)
      }
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) return yield* invalid(`VERITY_API_TOKENS entry #${index + 1}: invalid name`)
      if (names.has(name)) return yield* invalid(`VERITY_API_TOKENS: duplicate name ${name}`)
      names.add(name)
      if (token.length < 16) return yield* invalid(`VERITY_API_TOKENS ${name}: token shorter than 16 characters`)
      const granted = new Set<Scope>()
      for (const scope of scopeList.split(",").map((s) => s.trim())) {
        if (!isScope(scope)) return yield* invalid(`VERITY_API_TOKENS ${name}: unknown scope "${scope}" (read, write, admin)`)
        granted.add(scope)
      }
      parsed.push({ name, token: Redacted.make(token), scopes: granted })
    }
    return parsed
  })

const digest = (token: string) => createHash("sha256").update(token).digest()

/** The configured tokens, looked up by a digest so comparison time does not depend on the token. */
export class Tokens extends Context.Service<Tokens, {
  readonly verify: (token: string) => Option.Option<PrincipalShape>
  /** The generated development token, when no tokens were configured. */
  readonly developmentToken: Option.Option<Redacted.Redacted>
}>()("@verity/api/Tokens") {
  static readonly make = (entries: ReadonlyArray<TokenEntry>, developmentToken: Option.Option<Redacted.Redacted>) => {
    const byDigest = entries.map((entry) => ({ digest: digest(Redacted.value(entry.token)), principal: entry }))
    return Tokens.of({
      developmentToken,
      verify: (token) => {
        if (token === "") return Option.none()
        const candidate = digest(token)
        let found: PrincipalShape | undefined
        for (const entry of byDigest) if (timingSafeEqual(entry.digest, candidate)) found = entry.principal
        return found === undefined ? Option.none() : Option.some({ name: found.name, scopes: found.scopes })
      }
    })
  }

  static readonly layer = Layer.effect(
    Tokens,
    Effect.gen(function*() {
      const config = yield* ApiConfig
      const configured = config.tokens
      if (Option.isSome(configured)) {
        // A malformed token list is a deployment mistake: the process must not start.
        const entries = yield* parseTokens(Redacted.value(configured.value)).pipe(Effect.orDie)
        if (entries.length > 0) return Tokens.make(entries, Option.none())
      }
      const token = Redacted.make(`dev-${randomBytes(24).toString("base64url")}`)
      return Tokens.make([{ name: "dev", token, scopes: new Set(scopes) }], Option.some(token))
    })
  )

  static readonly layerTest = (entries: ReadonlyArray<{ name: string; token: string; scopes: ReadonlyArray<Scope> }>) =>
    Layer.succeed(
      Tokens,
      Tokens.make(entries.map((e) => ({ name: e.name, token: Redacted.make(e.token), scopes: new Set(e.scopes) })), Option.none())
    )
}

/** The middleware: 401 without a valid token, 403 when the endpoint's scope is missing. Needs `Tokens`. */
export const layer = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const tokens = yield* Tokens
    return Authorization.of({
      bearer: (httpEffect, { credential, endpoint, group }) => {
        const principal = tokens.verify(Redacted.value(credential))
        if (Option.isNone(principal)) {
          return Effect.fail(new Unauthorized({ detail: "a valid bearer token is required (Authorization: Bearer <token>)" }))
        }
        const required = Context.getOrUndefined(endpoint.annotations, RequiredScope) ??
          Context.getOrUndefined(group.annotations, RequiredScope) ?? "read"
        if (!principal.value.scopes.has(required)) {
          return Effect.fail(new Forbidden({ requiredScope: required, detail: `this operation needs the "${required}" scope` }))
        }
        return Effect.provideService(httpEffect, Principal, principal.value).pipe(
          Effect.annotateLogs("actor", principal.value.name)
        )
      }
    })
  })
)
