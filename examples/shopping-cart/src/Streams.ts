/**
 * Carts and orders bound to the event store: the stream category of each aggregate (`cart-<id>`,
 * `order-<id>`), its codec (the current schema version of every event type) and its command handler.
 * Everything that reads or writes these streams goes through the bindings here.
 */
import { CommandHandler, EventCodec } from "@verity/eventstore"
import * as Cart from "./Cart.ts"
import * as Order from "./Order.ts"

export const CART_CATEGORY = "cart"
export const ORDER_CATEGORY = "order"

export const cartCodec = EventCodec.make({ schema: Cart.CartEvent, versions: Cart.CartEventVersions })
export const orderCodec = EventCodec.make({ schema: Order.OrderEvent, versions: Order.OrderEventVersions })

/** Cart commands: queued and batched per cart, so concurrent adds to one cart are decided one after another. */
export const Carts = CommandHandler.make({ category: CART_CATEGORY, decider: Cart.decider, codec: cartCodec })

export const Orders = CommandHandler.make({ category: ORDER_CATEGORY, decider: Order.decider, codec: orderCodec })
