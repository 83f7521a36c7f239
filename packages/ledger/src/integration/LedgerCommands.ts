/**
 * The ledger's commands over NATS request/reply (`CommandService` of the integration package): one subject
 * per aggregate, `<prefix>.commands.account` and `<prefix>.commands.transfer`, accepting the commands the
 * HTTP API accepts, with each aggregate's rejections encoded by their schema. The transfer steps (debits,
 * credits, refunds, settlements and their records) stay the transfer process's own: refused as
 * `InvalidCommand`.
 */
import { Account, Transfer } from "@verity/domain"
import { CommandService } from "@verity/integration"
import { bus } from "../LedgerCommandBus.ts"

const [accounts, transfers] = bus.registrations

export const routes: ReadonlyArray<CommandService.Route> = [
  CommandService.route(accounts, {
    rejection: Account.AccountRejection,
    commands: [
      "OpenAccount",
      "Deposit",
      "Withdraw",
      "SetOverdraftLimit",
      "UpdateHolderDetails",
      "FreezeAccount",
      "UnfreezeAccount",
      "CloseAccount"
    ]
  }),
  CommandService.route(transfers, { rejection: Transfer.TransferRejection, commands: ["RequestTransfer"] })
]
