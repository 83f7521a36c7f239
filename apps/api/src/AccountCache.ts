/**
 * The command hot path without a stream load: this process remembers the state and version each account
 * had after its last command here, decides against that, and appends at that version. The store's
 * expected-version check makes this safe: if anyone else wrote in between (another API process, the
 * transfer process manager) the append fails and the command goes the authoritative way (the ledger's
 * command handler: load, decide, append, bounded retries). Anything the cached state cannot be trusted
 * for also goes that way: a rejection or a no-op decision (re-decided on fresh state), `If-Match`
 * commands, the commands that read the holder's details, and appends that cross a snapshot boundary (so
 * the handler keeps writing snapshots). Cached states hold no personal data: holder fields are
 * placeholders, and the commands that would read them never use the cache.
 */
import { Effect, Option, Result, Schedule } from "effect"
import { Account } from "@verity/domain"
import { type CommandHandler, EventId, EventStore, type NewEvent } from "@verity/eventstore"

type Handler = CommandHandler.CommandHandler<
  Account.AccountCommand,
  Account.AccountEvent,
  Account.AccountState,
  Account.AccountRejection
>

interface Entry {
  readonly state: Account.AccountState
  readonly version: number
}

/** The cached copy never holds the holder's name or email. */
const redact = (state: Account.AccountState): Account.AccountState =>
  state.status === "Open"
    ? { ...state, holderName: Account.ErasedHolderName, holderEmail: Account.ErasedHolderEmail }
    : state

const readsHolder = (command: Account.AccountCommand) =>
  command._tag === "OpenAccount" || command._tag === "UpdateHolderDetails"

const unavailableRetry = Schedule.exponential("50 millis", 2).pipe(Schedule.jittered)

export const make = (handler: Handler, capacity = 50_000) => {
  const { codec, decider, snapshot } = handler.aggregate
  // Insertion order is recency order: an entry is re-inserted on every write.
  const entries = new Map<string, Entry>()
  const remember = (id: string, entry: Entry) => {
    entries.delete(id)
    if (entries.size >= capacity) entries.delete(entries.keys().next().value!)
    entries.set(id, entry)
  }
  const forget = (id: string) => {
    entries.delete(id)
  }

  /** The command handler's way, keeping the cache in step with what it saw. */
  const authoritative = (id: string, command: Account.AccountCommand, options: CommandHandler.HandleOptions) =>
    handler.handle(id, command, options).pipe(
      Effect.tap((handled) => Effect.sync(() => remember(id, { state: redact(handled.state), version: handled.version }))),
      Effect.tapError(() => Effect.sync(() => forget(id)))
    )

  const crossesSnapshot = (before: number, after: number) =>
    snapshot !== undefined && Math.floor(after / snapshot.every) !== Math.floor(before / snapshot.every)

  const handle = (id: string, command: Account.AccountCommand, options: CommandHandler.HandleOptions = {}) =>
    Effect.gen(function*() {
      const cached = entries.get(id)
      if (cached === undefined || options.expectedVersion !== undefined || readsHolder(command)) {
        return yield* authoritative(id, command, options)
      }
      const decided = decider.decide(command, cached.state)
      if (Result.isFailure(decided) || decided.success.length === 0) return yield* authoritative(id, command, options)
      const events = decided.success
      const version = cached.version + events.length
      if (crossesSnapshot(cached.version, version)) return yield* authoritative(id, command, options)
      const store = yield* EventStore
      const now = Date.now()
      const newEvents: Array<NewEvent> = events.map((event) => {
        const encoded = codec.encode(event)
        return { eventId: EventId.make(now), type: encoded.type, schemaVersion: encoded.schemaVersion, data: encoded.data }
      })
      const appended = yield* store.append(
        handler.streamOf(id),
        cached.version,
        newEvents,
        options.metadata === undefined ? undefined : { metadata: options.metadata }
      ).pipe(
        // The same event ids make a retried append idempotent (see CommandHandler).
        Effect.retry({ schedule: unavailableRetry, times: 4, while: (e) => e._tag === "StoreUnavailable" && e.retryable }),
        Effect.map(Option.some),
        Effect.catchTag("WrongExpectedVersion", () => Effect.succeed(Option.none()))
      )
      if (Option.isNone(appended)) {
        // Someone else wrote: decide again on the real state.
        forget(id)
        return yield* authoritative(id, command, options)
      }
      let state = cached.state
      for (const event of events) state = decider.evolve(state, event)
      remember(id, { state, version: appended.value.version })
      return { events, state, version: appended.value.version, appended: Option.some(appended.value) }
    }).pipe(Effect.tapError(() => Effect.sync(() => forget(id))))

  return { aggregate: handler.aggregate, streamOf: handler.streamOf, handle, forget, size: () => entries.size }
}

export type AccountCache = ReturnType<typeof make>
