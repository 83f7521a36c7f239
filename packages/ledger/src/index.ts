/**
 * The example domain's composition on the generic libraries: the ledger's aggregates bound to streams, its
 * read models and transfer process as projections, its published contracts, and the runtime that wires
 * them from configuration, and `FraudWatch`, an example consumer of its published events.
 */
export * as FraudWatch from "./consumers/fraudWatch/FraudWatch.ts"
export * as LedgerCommands from "./integration/LedgerCommands.ts"
export * as LedgerContracts from "./integration/LedgerContracts.ts"
export * as LedgerCommandBus from "./LedgerCommandBus.ts"
export * as LedgerInboxes from "./LedgerInboxes.ts"
export * as LedgerRuntime from "./LedgerRuntime.ts"
export * as LedgerReadModels from "./ReadModels.ts"
export * as LedgerStreams from "./Streams.ts"
export * as LedgerTransferProcess from "./TransferProcess.ts"
