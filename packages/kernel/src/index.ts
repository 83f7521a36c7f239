/**
 * @verity/kernel: the shared kernel of Verity, the few shapes the domain and the event store both speak.
 * `Decider` (an aggregate as plain data, and the fold/decide helpers), `Upcaster` (schema evolution of
 * stored events and the one upcast-chain algorithm) and `PersonalData` (the annotation marking personal
 * fields). It depends on `effect` only and knows neither a domain nor a store.
 */
export * as Decider from "./Decider.ts"
export * as PersonalData from "./PersonalData.ts"
export * as Upcaster from "./Upcaster.ts"
