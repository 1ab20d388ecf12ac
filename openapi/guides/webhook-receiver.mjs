// A webhook receiver for the README's walk-through: verifies every delivery with the official Standard Webhooks
// library (npm standardwebhooks 1.1.1) and appends one line per delivery to a log.
//
//   node openapi/guides/webhook-receiver.mjs <dir>
//
// Listens on 127.0.0.1 (a free port, written to <dir>/port); reads the subscription's secret from <dir>/secret at
// each delivery (the secret exists only once the subscription is created, which needs the receiver's URL);
// logs "verified <type> <resource id> <status>" or "REJECTED <reason>" to <dir>/log. Answers 204, or 400 when the
// signature does not verify (the API then retries).
import { createServer } from "node:http";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const dir = process.argv[2] ?? ".";
const server = createServer((request, response) => {
  const chunks = [];
  request.on("data", chunk => chunks.push(chunk));
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      const secret = readFileSync(`${dir}/secret`, "utf8").trim();
      // Throws unless webhook-id, webhook-timestamp (within 5 minutes) and webhook-signature match the body.
      const event = new Webhook(secret).verify(body, request.headers);
      appendFileSync(`${dir}/log`, `verified ${event.type} ${event.data.resourceId} ${event.data.status ?? ""}\n`);
      response.writeHead(204).end();
    } catch (error) {
      appendFileSync(`${dir}/log`, `REJECTED ${error.message}\n`);
      response.writeHead(400).end();
    }
  });
});
server.listen(0, "127.0.0.1", () => writeFileSync(`${dir}/port`, String(server.address().port)));
