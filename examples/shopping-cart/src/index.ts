/**
 * @verity/example-shopping-cart: a shopping cart and its orders built only on Verity's public packages.
 * Namespaces: `Cart`, `Order` (the pure deciders), `Values`, `Decider`, `Streams` (stream bindings),
 * `CartOverview` + `OverviewQueries` (the read model), `CheckoutProcess` (the process manager), `Runtime`,
 * `Shop` (the use cases the command line runs).
 */
export { Decider } from "@verity/kernel"
export * as Cart from "./Cart.ts"
export * as CheckoutProcess from "./CheckoutProcess.ts"
export * as Order from "./Order.ts"
export * as CartOverview from "./overview/Projection.ts"
export * as OverviewQueries from "./overview/Queries.ts"
export * as Runtime from "./Runtime.ts"
export * as Shop from "./Shop.ts"
export * as Streams from "./Streams.ts"
export * as Values from "./Values.ts"
