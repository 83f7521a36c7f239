/** The replayer's command line: one root command with a subcommand per operation. */
import { Command } from "effect/cli"
import { follow } from "./commands/Follow.ts"
import { migrate } from "./commands/Migrate.ts"
import { parked, retry, skip } from "./commands/Parked.ts"
import { rebuild } from "./commands/Rebuild.ts"
import { relay } from "./commands/Relay.ts"
import { inboxes, status } from "./commands/Status.ts"
import { verify } from "./commands/Verify.ts"

export const replayer = Command.make("replayer").pipe(
  Command.withDescription(
    "Rebuild, verify and follow Verity's read models, run the relay to NATS JetStream and the inboxes consuming it. Uses DATABASE_URL, or the embedded PostgreSQL in VERITY_DATA_DIR."
  ),
  Command.withSubcommands([status, inboxes, rebuild, verify, follow, relay, parked, retry, skip, migrate])
)
