// Validate an AsyncAPI document with the AsyncAPI initiative's parser, resolving its
// relative $refs (the JSON Schemas in schemas/v1/) from the file's own folder.
// Usage: node validate.mjs ../accord.asyncapi.json   (exit 1 on any error-level finding)
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Parser, fromFile } from "@asyncapi/parser";

const file = resolve(process.argv[2] ?? "../accord.asyncapi.json");
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, file).parse({
  source: pathToFileURL(file).href,
});
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  const level = ["error", "warning", "info", "hint"][d.severity];
  console.log(`${level}: ${d.code} ${d.message} at ${d.path.join(".")}`);
}
if (document === undefined || errors.length > 0) {
  console.error(`error [asyncapi-invalid]: ${file}: ${errors.length} errors`);
  process.exit(1);
}
const channels = document.channels().length;
const operations = document.operations().length;
console.log(`valid AsyncAPI ${document.version()}: ${channels} channels, ${operations} operations`);
