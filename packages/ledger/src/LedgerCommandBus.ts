/**
 * The ledger's command bus: account and transfer commands, each routed to its aggregate's command handler
 * (`Streams.ts`) by the stream its command names. Every door that sends ledger commands (the HTTP API, the
 * transfer process, a message queue) dispatches through it, so metadata and idempotency are filled the same
 * way everywhere.
 */
import { Account, Transfer } from "@verity/domain"
import { CommandBus } from "@verity/eventstore"
import { Accounts, Transfers } from "./Streams.ts"

export const bus = CommandBus.make([
  CommandBus.register({ schema: Account.AccountCommand, handler: Accounts, streamOf: (command) => command.accountId }),
  CommandBus.register({ schema: Transfer.TransferCommand, handler: Transfers, streamOf: (command) => command.transferId })
])

export const dispatch = bus.dispatch
export const dispatchUnknown = bus.dispatchUnknown
