/**
 * The Cart aggregate: one shopper's cart, open until it is checked out. Sections in fixed order: events
 * contract, state + evolve, commands, rejections, decide. Guarantees, for every reachable state: at most
 * MaxLines lines, each of 1..MaxQuantity units at one unit price; a checked-out cart never changes and
 * was never empty.
 */

// 1. Events: the stored contract
export * from "./cart/Events.ts"
// 2. State, initialState, evolve
export * from "./cart/State.ts"
// 3. Commands
export * from "./cart/Commands.ts"
// 4. Rejections
export * from "./cart/Rejections.ts"
// 5. decide and the Decider
export * from "./cart/Decide.ts"
