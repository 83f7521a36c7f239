import { forEachDatabase, TestDatabase } from "@verity/postgres/testing"
import { Layer } from "effect"
import { type EventStore, MasterKeys, MemoryEventStore, PersonalData, PgEventStore } from "../src/index.ts"
import { eventStoreContract, personalFields } from "./contract/EventStoreContract.ts"

/** Crypto-shredding (the store the apps use) over `store`; the data keys live in the test database. */
const protectedStore = <E, R>(store: Layer.Layer<EventStore, E, R>) =>
  PersonalData.layer({ masterKeys: MasterKeys.parse(MasterKeys.generate("k1")), fields: personalFields }).pipe(
    Layer.provide(store)
  )

forEachDatabase((target) => {
  eventStoreContract("PostgreSQL event store", PgEventStore.layer().pipe(Layer.provide(TestDatabase.layer(target))))
  eventStoreContract(
    "PostgreSQL event store in a custom schema, without notifications",
    PgEventStore.layer({ schema: "ledger_store", notifications: false }).pipe(Layer.provide(TestDatabase.layer(target)))
  )
  eventStoreContract(
    "crypto-shredding over the PostgreSQL event store",
    protectedStore(PgEventStore.layer()).pipe(Layer.provide(TestDatabase.layer(target)))
  )
  eventStoreContract(
    "crypto-shredding over the in-memory event store",
    protectedStore(MemoryEventStore.layer()).pipe(Layer.provide(TestDatabase.layer(target)))
  )
})
