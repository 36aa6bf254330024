// Turns the real answers the test suite wrote (NB_OPENAPI_OUT/answers/*.json) into .generated/answers.ts, each
// object literal checked with `satisfies` against the generated client's type: tsc then refuses a member the
// document lacks, a missing required member, and a member of another type.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [answersDir] = process.argv.slice(2);
const shapes = { session: "SessionDto", messageData: "MessageDto", image: "ImageDto", pagination: "Pagination", problem: "Problem" };
let out = 'import type { components } from "./api";\ntype S = components["schemas"];\n\n';
for (const [name, schema] of Object.entries(shapes)) {
  const json = readFileSync(join(answersDir, `${name}.json`), "utf8");
  out += `export const ${name} = ${json} satisfies S[${JSON.stringify(schema)}];\n\n`;
}
mkdirSync(".generated", { recursive: true });
writeFileSync(".generated/answers.ts", out);
