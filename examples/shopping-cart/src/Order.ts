/**
 * The Order aggregate: an order placed from a checked-out cart, then confirmed or cancelled. Sections in
 * fixed order: events contract, state + evolve, commands, rejections, decide. Guarantees: an order is
 * placed once, with at least one line and the total of its lines; it is confirmed or cancelled, never both.
 */

// 1. Events: the stored contract
export * from "./order/Events.ts"
// 2. State, initialState, evolve
export * from "./order/State.ts"
// 3. Commands
export * from "./order/Commands.ts"
// 4. Rejections
export * from "./order/Rejections.ts"
// 5. decide and the Decider
export * from "./order/Decide.ts"
