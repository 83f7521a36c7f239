/**
 * The inboxes of an application from configuration, like the relay's (RelayConfig.ts): with `NATS_URL`
 * set the application's inboxes run, each a durable consumer of the JetStream stream the relay publishes
 * to; without it nothing of them exists and nothing connects (an application runs on a machine with no
 * broker). `VERITY_INBOX=off` turns them off while the relay still runs.
 * - `VERITY_INBOX_STREAM`: the JetStream stream consumed (default: the relay's, `VERITY_RELAY_STREAM`,
 *   itself defaulting to `VERITY`);
 * - `VERITY_RELAY_PREFIX` (default `verity`): the published subjects' prefix; an inbox filters on
 *   `<prefix>.<category>.>`.
 */
import { Config, Effect, Option } from "effect"

/** Where the configured inboxes consume. */
export interface InboxSettings {
  readonly servers: ReadonlyArray<string>
  readonly stream: string
  readonly prefix: string
}

const servers = Config.String("NATS_URL").pipe(
  Config.option,
  Config.map(Option.map((value) => value.split(",").map((s) => s.trim()).filter((s) => s !== ""))),
  Config.map(Option.filter((list) => list.length > 0))
)

/** The settings when inboxes should run: `NATS_URL` set and `VERITY_INBOX` not `off`; none otherwise. */
export const settings: Effect.Effect<Option.Option<InboxSettings>, Config.ConfigError> = Effect.gen(function*() {
  const configured = yield* servers
  if (Option.isNone(configured)) return Option.none()
  const enabled = yield* Config.Literals(["on", "off"], "VERITY_INBOX").pipe(Config.withDefault("on"))
  if (enabled === "off") return Option.none()
  const relayStream = yield* Config.String("VERITY_RELAY_STREAM").pipe(Config.withDefault("VERITY"))
  const stream = yield* Config.String("VERITY_INBOX_STREAM").pipe(
    Config.option,
    Config.map(Option.filter((value) => value.trim() !== ""))
  )
  const prefix = yield* Config.String("VERITY_RELAY_PREFIX").pipe(Config.withDefault("verity"))
  return Option.some({ servers: configured.value, stream: Option.getOrElse(stream, () => relayStream), prefix })
})

/** The subject filter of an inbox reading `category`'s published events. */
export const subjectOf = (settings: InboxSettings, category: string) => `${settings.prefix}.${category}.>`
