/**
 * The Transfer aggregate: the saga's own stream, moving money from one account to another in the same
 * currency. Sections in fixed order: events contract, state + initialState + evolve, commands,
 * rejections, decide. Guarantees: the status follows the state machine in transfer/State.ts, each step
 * is recorded at most once, and a failure after the debit always goes through the refund.
 */

// 1. Events: the stored contract (+ the upcasters from older versions: none yet)
export * from "./transfer/Events.ts"
export * from "./transfer/Upcasters.ts"
// 2. State, initialState, evolve
export * from "./transfer/State.ts"
// 3. Commands
export * from "./transfer/Commands.ts"
// 4. Rejections
export * from "./transfer/Rejections.ts"
// 5. decide and the Decider
export * from "./transfer/Decide.ts"
