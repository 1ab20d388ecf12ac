// The README's story, as an integrator writes it with a client generated from the contract:
//   npx openapi-typescript openapi/coordinationhub.v1.json -o generated/coordinationhub.ts
// Run by the test suite (TypeScriptClientTests) against a live server; type-checked with tsc --strict.
// Keys are issued out of band (the CLI in the README): the story asks for them on stdout ("KEY? <id>").
import createClient from "openapi-fetch";
import * as readline from "node:readline";
import type { components, paths } from "./generated/coordinationhub.js";

type Problem = components["schemas"]["ProblemDetails"];

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const baseUrl = setting("API_URL");
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function keyFor(organisationId: string): Promise<string> {
  console.log(`KEY? ${organisationId}`);
  const line = await input.next();
  if (line.done) throw new Error(`no key for ${organisationId}`);
  return line.value.trim();
}

const client = (key: string) => createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });

function ok<T>(answer: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (answer.data === undefined) throw new Error(`${what}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  return answer.data;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}

const admin = client(setting("ADMIN_KEY"));
const communeCode = setting("COMMUNE");

// 1. The directory: the commune, and its département.
const communes = ok(await admin.GET("/v1/organisations", { params: { query: { commune: communeCode, kind: "COMMUNE" } } }), "search");
const commune = communes.items[0];
if (!commune) throw new Error(`no commune ${communeCode}`);
const departements = ok(await admin.GET("/v1/organisations", {
  params: { query: { kind: "DEPARTEMENT", departement: commune.departementCode ?? "" } },
}), "département");
const departement = departements.items[0];
if (!departement) throw new Error("no département");

// 2. The CCAS of the commune, registered by the administrator.
const ccas = ok(await admin.POST("/v1/organisations", {
  body: { kind: "CCAS", name: `CCAS de ${commune.name}`, communeId: commune.id, siret: setting("SIRET") },
}), "registration");
check(ccas.kind === "CCAS" && ccas.communeId === commune.id, "the CCAS is attached to its commune");

const dep = client(await keyFor(departement.id));
const ccasClient = client(await keyFor(ccas.id));

// 3. A convention drafted by the département, signed by both parties.
const convention = ok(await dep.POST("/v1/conventions", {
  body: {
    type: "DELEGATION", object: `Instruction de l'APA par le CCAS de ${commune.name}`,
    parties: [{ organisationId: departement.id, role: "Délégant" }, { organisationId: ccas.id, role: "Délégataire" }],
    competences: ["APA_INSTRUCTION"], communeIds: [commune.id], startOn: "2026-01-01", endOn: "2028-12-31",
    noticeDays: 90, allowsSubdelegation: false,
  },
}), "convention");
for (const signer of [dep, ccasClient]) {
  ok(await signer.POST("/v1/conventions/{id}/signatures", {
    params: { path: { id: convention.id } }, body: { signerName: "Le représentant légal", signedOn: "2025-12-20" },
  }), "signature");
}

// 4. The delegation, then the competence map says who is responsible.
const delegation = ok(await dep.POST("/v1/delegations", {
  body: {
    delegatorId: departement.id, delegateId: ccas.id, competence: "APA_INSTRUCTION", conventionId: convention.id,
    communeIds: [commune.id], startOn: "2026-02-01", endOn: "2027-12-31", externalRef: "TS-APA-1",
  },
}), "delegation");
const entry = ok(await dep.GET("/v1/competence-map", {
  params: { query: { commune: communeCode, competence: "APA_INSTRUCTION", date: "2026-06-01" } },
}), "competence map");
check(entry.responsible.id === ccas.id, `responsible is ${entry.responsible.name}, not the CCAS`);
check(entry.chain.some(step => step.delegationId === delegation.id), "the chain names the delegation");

// 5. A refused request, read as the contract's problem document.
const refused = await dep.POST("/v1/delegations", {
  body: {
    delegatorId: departement.id, delegateId: ccas.id, competence: "APA_INSTRUCTION", conventionId: convention.id,
    communeIds: [commune.id], startOn: "2026-06-01", endOn: "2026-12-31",
  },
});
const problem: Problem | undefined = refused.error;
check(refused.response.status === 409, `expected 409, got ${refused.response.status}`);
check(problem?.type === "https://coordinationhub.fr/problems/delegations.overlap", `problem type ${problem?.type}`);
check(refused.response.headers.get("RateLimit-Policy") !== null, "RateLimit-Policy on the answer");

console.log("STORY OK");
process.exit(0);
