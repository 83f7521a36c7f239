/**
 * The checkout process manager: for every `CartCheckedOut` it places the cart's order. It runs in the
 * projection runtime like a read model (one active runner, a checkpoint, parking), but `apply` sends a
 * command instead of writing tables, inside the transaction that advances its checkpoint: the order event
 * and the checkpoint commit together. A re-run batch (crash, redelivery) sends the same `PlaceOrder`
 * again, since the order id is derived from the cart id and the time comes from the event, and the order
 * decides nothing new.
 */
import type { EventMetadata, RecordedEvent, StoreUnavailable } from "@verity/eventstore"
import { Projection } from "@verity/projections"
import { Effect } from "effect"
import * as Crypto from "node:crypto"
import type { PlaceOrder } from "./Order.ts"
import { CART_CATEGORY, cartCodec, Orders } from "./Streams.ts"
import { type CartId, OrderId } from "./Values.ts"

export const NAME = "checkout_process"
/** The `actor` of every command the process sends. */
export const ACTOR = "checkout-process"

/** The namespace of order ids (any fixed UUID: it only keeps them apart from other name-based ids). */
const ORDER_NAMESPACE = Buffer.from("5b0c3f3e8a7d4d2f9f1e0c6a2b4d8e10", "hex")

/** The order of a cart: a name-based UUID (RFC 9562 version 5) of the cart id, the same on every run. */
export const orderIdFor = (cartId: CartId): OrderId => {
  const hash = Crypto.createHash("sha1").update(ORDER_NAMESPACE).update(cartId).digest().subarray(0, 16)
  hash.writeUInt8((hash.readUInt8(6) & 0x0f) | 0x50, 6)
  hash.writeUInt8((hash.readUInt8(8) & 0x3f) | 0x80, 8)
  const hex = hash.toString("hex")
  return OrderId.make(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`)
}

/** The metadata of the command caused by `event`: same correlation, caused by that event. */
const metadataFor = (event: RecordedEvent): EventMetadata => ({
  correlationId: typeof event.metadata.correlationId === "string" && event.metadata.correlationId !== ""
    ? event.metadata.correlationId
    : event.eventId,
  causationId: event.eventId,
  actor: ACTOR
})

/**
 * What the runner must do with a failure: a store outage passes through and a race with another writer of
 * the order stream becomes a `ProjectionConflict` (the runner retries the batch either way); anything else
 * (an undecodable event, an order id taken by another cart) fails the event, which the runner retries
 * alone and then parks, for an operator to look at.
 */
const failure =
  (what: string) =>
  (error: { readonly _tag: string; readonly message: string }): Projection.ProjectionFailure | Projection.ProjectionConflict | StoreUnavailable =>
    isStoreUnavailable(error)
      ? error
      : error._tag === "WrongExpectedVersion"
      ? new Projection.ProjectionConflict({ message: `${what}: ${error.message}`, cause: error })
      : new Projection.ProjectionFailure({ message: `${what}: ${error._tag}: ${error.message}`, cause: error })

const isStoreUnavailable = (error: { readonly _tag: string }): error is StoreUnavailable => error._tag === "StoreUnavailable"

/** Places the order of one checked-out cart (nothing for any other cart event). */
export const handleEvent = Effect.fn("CheckoutProcess.handleEvent")(function*(event: RecordedEvent) {
  const decoded = yield* cartCodec.decode(event).pipe(Effect.mapError(failure(`event ${event.eventId} of ${event.streamId}`)))
  for (const checkedOut of decoded) {
    if (checkedOut._tag !== "CartCheckedOut") continue
    const command: PlaceOrder = {
      _tag: "PlaceOrder",
      orderId: orderIdFor(checkedOut.cartId),
      cartId: checkedOut.cartId,
      lines: checkedOut.lines,
      at: checkedOut.at
    }
    yield* Orders.handle(command.orderId, command, { metadata: metadataFor(event) }).pipe(
      Effect.mapError(failure(`PlaceOrder ${command.orderId} for cart ${command.cartId}`))
    )
  }
})

export const projection = Projection.make({
  name: NAME,
  version: 1,
  description: "Checkout process manager: places the order of every checked-out cart",
  // It acts (sends commands): the runtime refuses to rebuild or verify it by replaying history.
  sideEffects: true,
  categories: [CART_CATEGORY],
  eventTypes: ["CartCheckedOut"],
  tables: [],
  migrate: () => Effect.void,
  apply: (events) => Effect.forEach(events, handleEvent, { discard: true })
})
