import { Layer } from "effect"
import { PgEventStore } from "../src/index.ts"
import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { eventStoreContract } from "./contract/EventStoreContract.ts"

forEachDatabase((target) => {
  eventStoreContract("PostgreSQL event store", PgEventStore.layer().pipe(Layer.provide(TestDatabase.layer(target))))
  eventStoreContract(
    "PostgreSQL event store in a custom schema, without notifications",
    PgEventStore.layer({ schema: "ledger_store", notifications: false }).pipe(Layer.provide(TestDatabase.layer(target)))
  )
})
