// The official Node SDK's webhook verification over deliveries mockft made. Run by
// tests/test_webhooks.py:
//   MOCKFT_WEBHOOKS='[{"body": "...", "headers": {...}}, ...]' MOCKFT_WEBHOOK_SECRET=whsec_... \
//   node webhook_unwrap.mjs
// Each delivery is unwrapped (its event's type and job id reported), and refused once its body
// is changed by one byte. Exits non-zero on the first failed assertion; the last line of
// output is a JSON summary.
import assert from "node:assert/strict";
import OpenAI, { InvalidWebhookSignatureError } from "openai";

const deliveries = JSON.parse(process.env.MOCKFT_WEBHOOKS ?? "[]");
const secret = process.env.MOCKFT_WEBHOOK_SECRET;
assert.ok(deliveries.length > 0 && secret, "MOCKFT_WEBHOOKS and MOCKFT_WEBHOOK_SECRET are required");
const client = new OpenAI({ apiKey: "unused", webhookSecret: secret });

const events = [];
for (const { body, headers } of deliveries) {
  const event = await client.webhooks.unwrap(body, headers);
  events.push({ type: event.type, job: event.data.id, id: event.id });
  const tampered = body.replace('"event"', '"evenT"');
  assert.notEqual(tampered, body);
  await assert.rejects(client.webhooks.unwrap(tampered, headers), InvalidWebhookSignatureError);
}
console.log(JSON.stringify({ events }));
