/**
 * The ledger's commands over NATS request/reply (see `LedgerCommands` and the integration package's
 * `CommandService`), served by this process when `NATS_URL` is set and off otherwise. Subjects are
 * `<VERITY_COMMANDS_PREFIX>.commands.<account|transfer>` (default prefix `ledger`); the bearer tokens and
 * scopes are the HTTP API's (`VERITY_API_TOKENS`, `write` for commands), and every process of the API
 * joins one queue group, so each request is answered by one of them. The prefix must stay outside the
 * relay's JetStream subjects (`<VERITY_RELAY_PREFIX>.>`): the stream would store each request and answer
 * it with its own acknowledgement. Such a configuration stops the process at start.
 */
import { CommandService } from "@verity/integration"
import { LedgerCommands } from "@verity/ledger"
import { Config, Effect, Layer, Option } from "effect"
import { ApiConfig } from "./ApiConfig.ts"
import { Tokens } from "./Auth.ts"

export const layer = Layer.unwrap(Effect.gen(function*() {
  const url = yield* Config.String("NATS_URL").pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))
  if (Option.isNone(url)) return Layer.empty
  const prefix = yield* Config.String("VERITY_COMMANDS_PREFIX").pipe(Config.withDefault("ledger"))
  const relayPrefix = yield* Config.String("VERITY_RELAY_PREFIX").pipe(Config.withDefault("verity"))
  if (prefix === relayPrefix || prefix.startsWith(`${relayPrefix}.`)) {
    return yield* Effect.die(new Error(`VERITY_COMMANDS_PREFIX (${prefix}) must not be under the relay's subjects (${relayPrefix}.>)`))
  }
  const config = yield* ApiConfig
  const tokens = yield* Tokens
  return CommandService.layer({
    servers: url.value.split(",").map((s) => s.trim()),
    prefix,
    routes: LedgerCommands.routes,
    authorize: tokens.verify,
    maxAttempts: config.conflictAttempts
  })
}))
