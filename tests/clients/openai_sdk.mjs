// The official OpenAI SDK for Node against a real `reflex serve` on 127.0.0.1: chat and
// completions (streamed and not), embeddings, models, and an invalid request surfacing as the
// SDK's own error with status 400. Exits non-zero on the first failed expectation.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const bin = process.env.RX_BIN ?? './build/reflex';
const model = `${process.env.RX_SHARED ?? '../shared'}/models/stories260K.gguf`;

function startServer() {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['serve', '-m', model, '--port', '0', '-np', '4', '--api-key', 'sdk-key', '--quiet'],
                    { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 60000);
    p.stderr.on('data', (d) => {
      log += d;
      const m = /listening on port (\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve({ p, port: Number(m[1]) }); }
    });
    p.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
}

const { p, port } = await startServer();
const client = new OpenAI({ apiKey: 'sdk-key', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 30000 });
try {
  const models = await client.models.list();
  assert.equal(models.data[0].id, 'stories260K');

  const c = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 64, temperature: 0 });
  assert.equal(c.choices[0].text.slice(0, 40), ', there was a little girl named Lily. Sh');
  assert.equal(c.usage.prompt_tokens, 5);

  let streamed = '';
  const cs = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 64, temperature: 0, stream: true });
  for await (const chunk of cs) streamed += chunk.choices[0]?.text ?? '';
  assert.equal(streamed, c.choices[0].text);

  const chat = await client.chat.completions.create({
    model: 'stories260K', temperature: 0, max_tokens: 16,
    messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Once upon a time' }],
  });
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.ok(chat.choices[0].message.content.length > 0);

  let chatStreamed = '';
  const chs = await client.chat.completions.create({
    model: 'stories260K', temperature: 0, max_tokens: 16, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Once upon a time' }],
  });
  let usage = null;
  for await (const chunk of chs) {
    chatStreamed += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(chatStreamed, chat.choices[0].message.content);
  assert.equal(usage.completion_tokens, chat.usage.completion_tokens);

  const e = await client.embeddings.create({ model: 'stories260K', input: ['Once upon a time', 'A cat'] });
  assert.equal(e.data.length, 2);
  assert.equal(e.data[0].embedding.length, 64);

  await assert.rejects(
    client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'x' }], temperature: 7 }),
    (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && /temperature/.test(err.message));
  await assert.rejects(
    new OpenAI({ apiKey: 'wrong', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 }).models.list(),
    (err) => err instanceof OpenAI.AuthenticationError && err.status === 401);
  console.log('openai sdk: all checks passed');
} finally {
  p.kill('SIGTERM');
}
