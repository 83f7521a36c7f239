/**
 * One message as an inbox handler sees it: the broker's subject and sequence, the relay's headers read
 * into fields (source stream, position, event id, contract type and version), and the payload. The
 * de-duplication key is the message id (`Nats-Msg-Id`): the relay sets it to the stored event's id, with a
 * `/<n>` suffix for the n-th further integration event of one stored event, so two integration events of
 * one stored event stay two messages while every redelivery or republication of one is recognised.
 */
import { Effect } from "effect"
import * as Contract from "./Contract.ts"
import { Headers } from "./Relay.ts"

export const MSG_ID_HEADER = "Nats-Msg-Id"

export interface InboxMessage {
  /** The de-duplication key: `Nats-Msg-Id`, else the event id header, else `<subject>#<sequence>`. */
  readonly id: string
  readonly subject: string
  /** The broker's sequence of the message in its JetStream stream. */
  readonly seq: number
  /** The source stream (`verity-stream`), the unit of ordering and parking; the subject when absent. */
  readonly stream: string
  readonly eventId: string | undefined
  readonly streamVersion: number | undefined
  readonly position: bigint | undefined
  readonly contractType: string | undefined
  readonly contractVersion: number | undefined
  readonly headers: Readonly<Record<string, string>>
  /** The payload as text (UTF-8). */
  readonly payload: string
}

const int = (value: string | undefined): number | undefined => {
  if (value === undefined || !/^\d+$/.test(value)) return undefined
  return Number(value)
}

/** Reads the relay's headers of one message. */
export const make = (subject: string, seq: number, headers: Readonly<Record<string, string>>, payload: string): InboxMessage => {
  const position = headers[Headers.position]
  return {
    id: headers[MSG_ID_HEADER] ?? headers[Headers.eventId] ?? `${subject}#${seq}`,
    subject,
    seq,
    stream: headers[Headers.stream] ?? subject,
    eventId: headers[Headers.eventId],
    streamVersion: int(headers[Headers.streamVersion]),
    position: position !== undefined && /^\d+$/.test(position) ? BigInt(position) : undefined,
    contractType: headers[Headers.contractType],
    contractVersion: int(headers[Headers.contractVersion]),
    headers,
    payload
  }
}

/**
 * The integration event of `message` decoded with `contract`'s schema (the publisher's contract, not its
 * storage format). Fails with a `ContractError` when the payload is not an event of the contract.
 */
export const decode = <S extends Contract.EventsSchema>(
  contract: Contract.CategoryContract<S>,
  message: InboxMessage
): Effect.Effect<S["Type"], Contract.ContractError, S["DecodingServices"]> =>
  Effect.try({
    try: (): unknown => JSON.parse(message.payload),
    catch: (e) => new Contract.ContractError({ reason: "InvalidValue", category: contract.category, detail: `not JSON: ${String(e)}` })
  }).pipe(Effect.flatMap((json) => Contract.decode(contract, json)))
