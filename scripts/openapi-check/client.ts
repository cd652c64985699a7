// A client generated from impactd's OpenAPI document (openapi-typescript
// types over the OpenAPI 3 conversion, openapi-fetch calls), run against a
// real impactd by run.sh: the stateless Estimate and a stored flow. tsc
// checks every call against the generated types before node runs it.
import createClient from "openapi-fetch";
import { readFileSync } from "node:fs";
import type { paths, components } from "./gen/schema.js";

type Scenario = components["schemas"]["v1EstimateRequest"];

const base = process.argv[2];
const seedFile = process.argv[3];
if (!base || !seedFile) {
  throw new Error("usage: node client.js BASE_URL SEED_FILE");
}
const client = createClient<paths>({ baseUrl: base });

function check(cond: boolean, what: string): void {
  if (!cond) {
    throw new Error("FAILED: " + what);
  }
  console.log("ok  " + what);
}

async function main(): Promise<void> {
  // Stateless estimate of the README's scenario.
  const seed = JSON.parse(readFileSync(seedFile, "utf8")) as Scenario;
  const est = await client.POST("/v1/scenarios:estimate", { body: seed });
  check(est.response.status === 200 && est.data !== undefined, "POST /v1/scenarios:estimate answers 200");
  const bank = est.data?.incidents?.[0]?.customers?.find((c) => c.customerId === "bank-northwind");
  check(bank?.slaCredits?.[0]?.credit?.amount === "1234.57", "the bank's credit is USD 1234.57");

  // A stored flow: customer, contract, incident, windows, :estimate, GET.
  const id = "ts-" + Date.now();
  const cust = await client.POST("/v1/customers", {
    params: { query: { customerId: id } },
    // customerId is REQUIRED in the schema (a scenario's customers need
    // it); the query parameter may name it instead, and both must agree.
    body: { customerId: id, currencyCode: "USD", baseline: { hourlyAmount: "120.00" } },
  });
  check(cust.response.status === 200 && cust.data?.name === "customers/" + id, "POST /v1/customers creates " + id);
  check(cust.data?.timeZone === "UTC", "the stored customer shows the default time zone");
  const got = await client.GET("/v1/customers/{customer}", { params: { path: { customer: id } } });
  check(got.data?.etag === cust.data?.etag, "GET /v1/customers/{customer} returns it");
  const upd = await client.PATCH("/v1/customers/{customer}", {
    params: { path: { customer: id }, query: { updateMask: "displayName" } },
    // The resource as read, changed: the mask says which field to write.
    body: { ...got.data!, displayName: "TypeScript Inc." },
  });
  check(upd.data?.displayName === "TypeScript Inc.", "PATCH with ?updateMask=displayName");
  const k = await client.POST("/v1/customers/{customer}/contracts", {
    params: { path: { customer: id } },
    body: { service: "api", monthlyFee: "1000.00", tiers: [{ uptimeBelow: "99.9", creditPercent: "10" }] },
  });
  check(k.data?.billingPeriod === "MONTHLY", "POST contract; billingPeriod shows MONTHLY");
  const inc = await client.POST("/v1/incidents", {
    params: { query: { incidentId: id } },
    body: { incidentId: id, title: "outage", cause: "HARDWARE_FAILURE" },
  });
  check(inc.response.status === 200, "POST /v1/incidents");
  const ws = await client.POST("/v1/incidents/{incident}/windows:batchCreate", {
    params: { path: { incident: id } },
    body: {
      requests: [{ outageWindow: { customerId: id, service: "api", startTime: "2025-07-01T10:00:00Z", endTime: "2025-07-01T11:30:00Z" } }],
    },
  });
  check(ws.data?.outageWindows?.length === 1, "POST windows:batchCreate");
  const e = await client.POST("/v1/incidents/{incident}:estimate", { params: { path: { incident: id } }, body: {} });
  check(e.data?.totals?.[0]?.lostRevenueGross === "180.00", "POST :estimate: 1.5 h at 120.00 = 180.00");
  const stored = await client.GET("/v1/incidents/{incident}/estimate", { params: { path: { incident: id } } });
  check(stored.data?.revision === "1", "GET the stored estimate, revision 1");

  // Errors are google.rpc.Status, typed by the document too.
  const missing = await client.GET("/v1/customers/{customer}", { params: { path: { customer: "nobody-" + id } } });
  check(missing.response.status === 404 && missing.error?.code === 5, "a missing customer is 404 NOT_FOUND");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
