// The fine-tuning workflow in the official OpenAI Node SDK, unchanged but for baseURL,
// against a live mockft server (manual clock). Run by tests/test_node_sdk.py:
//   MOCKFT_ROOT=http://127.0.0.1:PORT MOCKFT_TRAIN=fixtures/train_chat.jsonl node workflow.mjs
// Exits non-zero on the first failed assertion; the last line of output is a JSON summary.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import OpenAI, { toFile } from "openai";

const root = process.env.MOCKFT_ROOT;
const trainPath = process.env.MOCKFT_TRAIN;
const validPath = process.env.MOCKFT_VALID;
assert.ok(root && trainPath && validPath, "MOCKFT_ROOT, MOCKFT_TRAIN and MOCKFT_VALID are required");
const apiKey = "sk-node-0123456789";

const client = new OpenAI({ apiKey, baseURL: `${root}/v1` });
// 4.x names deletion `del`; 5.x and later `delete`.
const remove = (resource, id) => (resource.delete ?? resource.del).call(resource, id);
const summary = { steps: [] };
const step = (name) => summary.steps.push(name);

async function advance(seconds) {
  const response = await fetch(`${root}/mockft/clock/advance`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ seconds }),
  });
  assert.equal(response.status, 200);
}

async function until(jobId, wanted) {
  for (let i = 0; i < 2000; i++) {
    const job = await client.fineTuning.jobs.retrieve(jobId);
    if (wanted.includes(job.status)) return job;
    await advance(10);
  }
  throw new Error(`${jobId} never reached ${wanted}`);
}

const train = fs.readFileSync(trainPath);

// --- files -----------------------------------------------------------------------------
const training = await client.files.create({
  file: fs.createReadStream(trainPath),
  purpose: "fine-tune",
});
assert.match(training.id, /^file-[A-Za-z0-9]{22}$/);
assert.equal(training.filename, path.basename(trainPath));
assert.equal(training.bytes, train.length);
assert.equal(training.status, "processed");
const validation = await client.files.create({
  file: await toFile(fs.readFileSync(validPath), "valid.jsonl"),
  purpose: "fine-tune",
});
const scratch = await client.files.create({
  file: await toFile(Buffer.from("hello"), "notes.txt"),
  purpose: "assistants",
});
assert.deepEqual(await client.files.retrieve(training.id), training);
const content = await client.files.content(training.id);
assert.ok(Buffer.from(await content.arrayBuffer()).equals(train));
const listed = [];
for await (const file of client.files.list({ limit: 1 })) listed.push(file.id); // auto-paging
assert.deepEqual(listed, [scratch.id, validation.id, training.id]);
const fineTuneOnly = await client.files.list({ purpose: "fine-tune", order: "asc" });
assert.deepEqual(fineTuneOnly.data.map((f) => f.id), [training.id, validation.id]);
const deleted = await remove(client.files, scratch.id);
assert.deepEqual([deleted.id, deleted.deleted], [scratch.id, true]);
await assert.rejects(client.files.retrieve(scratch.id), (error) => {
  assert.ok(error instanceof OpenAI.NotFoundError);
  assert.equal(error.status, 404);
  assert.equal(error.message, `404 No such File object: ${scratch.id}`);
  assert.equal(error.param, "id");
  assert.match(error.requestID ?? error.request_id, /^req_[0-9a-f]{32}$/); // 4.x: request_id
  return true;
});
step("files");

// --- uploads ----------------------------------------------------------------------------
const upload = await client.uploads.create({
  bytes: train.length,
  filename: "parts.jsonl",
  mime_type: "text/jsonl",
  purpose: "fine-tune",
});
assert.equal(upload.status, "pending");
const cuts = [0, 1000, 2500, train.length];
const partIds = [];
for (let i = cuts.length - 2; i >= 0; i--) {
  // parts sent last first; part_ids says the order
  const part = await client.uploads.parts.create(upload.id, {
    data: await toFile(train.subarray(cuts[i], cuts[i + 1]), `part${i}`),
  });
  assert.match(part.id, /^part_[A-Za-z0-9]{24}$/);
  partIds[i] = part.id;
}
const completed = await client.uploads.complete(upload.id, {
  part_ids: partIds,
  md5: createHash("md5").update(train).digest("hex"),
});
assert.equal(completed.status, "completed");
const assembled = await client.files.content(completed.file.id);
assert.ok(Buffer.from(await assembled.arrayBuffer()).equals(train));
const dropped = await client.uploads.create({
  bytes: 3,
  filename: "x.jsonl",
  mime_type: "text/jsonl",
  purpose: "fine-tune",
});
assert.equal((await client.uploads.cancel(dropped.id)).status, "cancelled");
await assert.rejects(client.uploads.complete(dropped.id, { part_ids: [] }), OpenAI.BadRequestError);
step("uploads");

// --- fine-tuning jobs ---------------------------------------------------------------------
const job = await client.fineTuning.jobs.create({
  model: "gpt-4o-mini",
  training_file: training.id,
  validation_file: validation.id,
  suffix: "node",
  seed: 7,
  metadata: { sdk: "node" },
  method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 2 } } },
});
assert.match(job.id, /^ftjob-[A-Za-z0-9]{24}$/);
assert.equal(job.status, "validating_files");
const other = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: completed.file.id });
assert.equal((await client.fineTuning.jobs.cancel(other.id)).status, "cancelled");
await assert.rejects(client.fineTuning.jobs.pause(job.id), OpenAI.BadRequestError); // validating
await until(job.id, ["running"]);
assert.equal((await client.fineTuning.jobs.pause(job.id)).status, "paused");
assert.equal((await client.fineTuning.jobs.retrieve(job.id)).status, "paused");
assert.equal((await client.fineTuning.jobs.resume(job.id)).status, "running");
const done = await until(job.id, ["succeeded", "failed", "cancelled"]);
assert.equal(done.status, "succeeded");
assert.match(done.fine_tuned_model, /^ft:gpt-4o-mini-2024-07-18:mockft:node:/);
assert.equal(done.hyperparameters.n_epochs, 2);
assert.ok(done.trained_tokens > 0);

const jobs = [];
for await (const j of client.fineTuning.jobs.list({ limit: 1 })) jobs.push(j.id);
assert.deepEqual(jobs, [other.id, job.id]);
const tagged = await client.fineTuning.jobs.list({ metadata: { sdk: "node" } });
assert.deepEqual(tagged.data.map((j) => j.id), [job.id]);

const events = [];
for await (const event of client.fineTuning.jobs.listEvents(job.id, { limit: 25 })) events.push(event);
const messages = events.map((e) => e.message).reverse();
assert.equal(messages[0], `Created fine-tuning job: ${job.id}`);
assert.equal(messages.at(-1), "The job has successfully completed");
assert.ok(events.some((e) => e.type === "metrics"));
assert.equal(new Set(events.map((e) => e.id)).size, events.length);

const checkpoints = [];
for await (const c of client.fineTuning.jobs.checkpoints.list(job.id, { limit: 1 })) checkpoints.push(c);
assert.equal(checkpoints.length, 2); // one per epoch, of the last three
// The last checkpoint's model is the fine-tuned model; an earlier one has a tag of its own.
assert.equal(checkpoints[0].fine_tuned_model_checkpoint, done.fine_tuned_model);
const base = done.fine_tuned_model.split(":").slice(0, -1).join(":");
assert.match(checkpoints[1].fine_tuned_model_checkpoint, new RegExp(`^${base}:[0-9A-Za-z]{8}:ckpt-step-${checkpoints[1].step_number}$`));

const [resultId] = done.result_files;
const result = await client.files.retrieve(resultId);
assert.deepEqual([result.purpose, result.filename], ["fine-tune-results", "step_metrics.csv"]);
const csv = Buffer.from(await (await client.files.content(resultId)).text(), "base64").toString();
assert.ok(csv.startsWith("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"));
await assert.rejects(client.fineTuning.jobs.retrieve("ftjob-nope"), (error) => {
  assert.ok(error instanceof OpenAI.NotFoundError);
  assert.equal(error.code, "fine_tune_not_found");
  return true;
});
step("jobs");

// --- models -----------------------------------------------------------------------------
const models = [];
for await (const m of client.models.list()) models.push(m.id);
assert.ok(models.includes("gpt-4o-mini"));
assert.ok(models.includes(done.fine_tuned_model));
assert.equal((await client.models.retrieve(done.fine_tuned_model)).owned_by.startsWith("org-"), true);
const ckptModel = checkpoints.at(-1).fine_tuned_model_checkpoint; // an earlier one: the model stays
assert.equal((await remove(client.models, ckptModel)).deleted, true);
await assert.rejects(client.models.retrieve(ckptModel), OpenAI.NotFoundError);
await assert.rejects(remove(client.models, "gpt-4o-mini"), OpenAI.PermissionDeniedError);
step("models");

// --- chat: the fine-tuned model answers, whole and streamed --------------------------
const question = [{ role: "user", content: "Hello?" }];
const answer = await client.chat.completions.create({ model: done.fine_tuned_model, messages: question, seed: 3 });
const text = answer.choices[0].message.content;
assert.ok(text);
assert.equal(answer.model, done.fine_tuned_model);
const stream = await client.chat.completions.create({
  model: done.fine_tuned_model,
  messages: question,
  seed: 3,
  stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) streamed += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(streamed, text);
assert.ok(usage && usage.total_tokens > 0);
step("chat");

// --- errors: the SDK's error classes carry the envelope's fields ------------------------
await assert.rejects(
  client.fineTuning.jobs.create({ model: "no-such-model", training_file: training.id }),
  (error) => {
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.deepEqual([error.code, error.param, error.type], ["model_not_available", "model", "invalid_request_error"]);
    return true;
  },
);
await assert.rejects(
  client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: training.id, suffix: "x".repeat(65) }),
  (error) => error instanceof OpenAI.BadRequestError && error.param === "suffix",
);
step("errors");

summary.ok = true;
console.log(JSON.stringify(summary));
