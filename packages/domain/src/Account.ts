/**
 * The Account aggregate: one bank account in one currency. Sections in fixed order: events contract,
 * state + initialState + evolve, commands, rejections, decide. Guarantees, for every reachable state:
 * balance >= -overdraftLimit, balances stay within the Money bounds, a closed account has a zero balance
 * and no refundable transfer, and each transfer step applies at most once.
 */

// 1. Events: the stored contract (+ the holder's personal data they carry, + the upcasters from older versions)
export * from "./account/Events.ts"
export * from "./account/Holder.ts"
export * from "./account/Upcasters.ts"
// 2. State, initialState, evolve
export * from "./account/State.ts"
// 3. Commands
export * from "./account/Commands.ts"
// 4. Rejections
export * from "./account/Rejections.ts"
// 5. decide and the Decider
export * from "./account/Decide.ts"
