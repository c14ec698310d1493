// The fine-tuning workflow through the official Node SDK's AzureOpenAI client, unchanged but
// for its endpoint, against a live mockft server (manual clock). Run by tests/test_azure.py:
//   MOCKFT_ROOT=http://127.0.0.1:PORT MOCKFT_TRAIN=fixtures/train_chat.jsonl \
//   MOCKFT_AZURE_CONFIG=key|entra|v1 node azure_workflow.mjs
// Configurations: `key` (endpoint + apiKey + apiVersion), `entra` (endpoint +
// azureADTokenProvider), `v1` (baseURL on /openai/v1 + apiKey, the api-key header).
// Exits non-zero on the first failed assertion; the last line of output is a JSON summary.
import assert from "node:assert/strict";
import fs from "node:fs";
import { AzureOpenAI, NotFoundError } from "openai";

const root = process.env.MOCKFT_ROOT;
const trainPath = process.env.MOCKFT_TRAIN;
const config = process.env.MOCKFT_AZURE_CONFIG ?? "key";
assert.ok(root && trainPath, "MOCKFT_ROOT and MOCKFT_TRAIN are required");
const apiKey = "azure-node-0123456789";
const apiVersion = "2024-10-21";
const baseModel = "gpt-4o-mini-2024-07-18";
const classic = config !== "v1";

const client = {
  key: () => new AzureOpenAI({ endpoint: root, apiKey, apiVersion, maxRetries: 0 }),
  entra: () =>
    new AzureOpenAI({ endpoint: root, azureADTokenProvider: async () => "entra-token", apiVersion, maxRetries: 0 }),
  v1: () => new AzureOpenAI({ baseURL: `${root}/openai/v1`, apiKey, apiVersion: "preview", maxRetries: 0 }),
}[config]();
assert.ok(client, `unknown configuration ${config}`);
const summary = { config, steps: [] };
const step = (name) => summary.steps.push(name);

async function control(method, path, body) {
  const response = await fetch(`${root}${path}`, {
    method,
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.json();
}

async function until(fetchIt, done, seconds) {
  const seen = [];
  for (let i = 0; i < 2000; i++) {
    const obj = await fetchIt();
    if (seen.at(-1) !== obj.status) seen.push(obj.status);
    if (done(obj)) return [obj, seen];
    await control("POST", "/mockft/clock/advance", { seconds });
  }
  throw new Error(`still ${seen.at(-1)}`);
}

// --- files: imported (pending -> processed) before use -----------------------------------
const uploaded = await client.files.create({ file: fs.createReadStream(trainPath), purpose: "fine-tune" });
assert.equal(uploaded.status, "pending");
const [imported, fileStates] = await until(() => client.files.retrieve(uploaded.id), (f) => f.status !== "pending", 5);
assert.deepEqual(fileStates, ["pending", "processed"]);
assert.equal(imported.bytes, fs.statSync(trainPath).size);
step("files");

// --- a job to success ----------------------------------------------------------------------
const job = await client.fineTuning.jobs.create({ model: baseModel, training_file: uploaded.id, suffix: "node", seed: 7 });
assert.equal(job.status, classic ? "pending" : "validating_files");
assert.equal(job.hyperparameters.n_epochs, classic ? -1 : "auto");
const [done, jobStates] = await until(
  () => client.fineTuning.jobs.retrieve(job.id),
  (j) => ["succeeded", "failed", "cancelled"].includes(j.status),
  30,
);
assert.equal(done.status, "succeeded");
const expected = classic ? ["pending", "running"] : ["validating_files", "queued", "running"];
assert.deepEqual(jobStates, [...expected, "succeeded"]);
step("job");

const events = [];
for await (const event of client.fineTuning.jobs.listEvents(job.id, { limit: 5 })) events.push(event);
assert.equal(events[0].message, "The job has successfully completed");
assert.ok(events.some((e) => e.type === "metrics"));
const checkpoints = (await client.fineTuning.jobs.checkpoints.list(job.id)).data;
assert.ok(checkpoints.length > 0);
// The last checkpoint's model is the fine-tuned model; an earlier one has a tag of its own.
assert.equal(checkpoints[0].fine_tuned_model_checkpoint, done.fine_tuned_model);
const base = done.fine_tuned_model.split(":").slice(0, -1).join(":");
assert.ok(checkpoints.slice(1).every((c) => c.fine_tuned_model_checkpoint.startsWith(`${base}:`) && c.fine_tuned_model_checkpoint.endsWith(`:ckpt-step-${c.step_number}`)));
const csv = Buffer.from(await (await client.files.content(done.result_files[0])).text(), "base64").toString();
assert.ok(csv.startsWith("step,train_loss,"));
assert.equal((await client.models.retrieve(done.fine_tuned_model)).id, done.fine_tuned_model);
step("results");

// --- chat through a deployment --------------------------------------------------------------
const deployment = `marv-node-${config}`;
await control("PUT", `/mockft/azure/deployments/${deployment}`, { model: done.fine_tuned_model });
const example = JSON.parse(fs.readFileSync(trainPath, "utf8").split("\n")[0]).messages;
const prompt = example.findLast((m) => m.role === "user").content;
const reply = example.findLast((m) => m.role === "assistant").content;
const messages = [{ role: "user", content: prompt }];
const answer = await client.chat.completions.create({ model: deployment, messages });
assert.equal(answer.choices[0].message.content, reply);
assert.equal(answer.model, done.fine_tuned_model);
let streamed = "";
for await (const chunk of await client.chat.completions.create({ model: deployment, messages, stream: true })) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
}
assert.equal(streamed, reply);
await assert.rejects(client.chat.completions.create({ model: "no-such-deployment", messages }), (error) => {
  assert.ok(error instanceof NotFoundError);
  assert.equal(error.code, "DeploymentNotFound");
  return true;
});
step("chat");

summary.ok = true;
console.log(JSON.stringify(summary));
