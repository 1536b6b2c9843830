// One session of an official TypeScript SDK client against telco-mcp, for tests/clients/test_ts_clients.py.
//
//   node ts_client.mjs <sdk1|client2> <elicit|no-elicit> <target.json>
//
// sdk1    = @modelcontextprotocol/sdk 1.x (the 2025-11-25 handshake)
// client2 = @modelcontextprotocol/client 2.x with versionNegotiation {mode: 'auto'} (2026-07-28)
// target.json: {"url": "http://127.0.0.1:PORT/mcp"} or {"command": ..., "args": [...], "env": {...}, "cwd": ...}
//
// It lists the tools, reads telco-mcp://configuration, calls a read tool, then a write (hold or resume
// the first running call) with an elicitation handler that says yes (`elicit`) or with no elicitation
// capability at all (`no-elicit`), and prints one JSON object with what it saw. Logs go to stderr.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// The pinned packages live in tools/node (NODE_TOOLS), not beside this file.
const load = createRequire(join(process.env.NODE_TOOLS, "package.json"));

const [flavour, elicitMode, targetPath] = process.argv.slice(2);
const target = JSON.parse(readFileSync(targetPath, "utf8"));
const elicit = elicitMode === "elicit";
const questions = [];
const info = { name: `telco-mcp-test-${flavour}`, version: "1.0.0" };
let protocolVersion = null;

async function connectSdk1() {
  const { Client } = load("@modelcontextprotocol/sdk/client/index.js");
  const { ElicitRequestSchema } = load("@modelcontextprotocol/sdk/types.js");
  const client = new Client(info, { capabilities: elicit ? { elicitation: {} } : {} });
  if (elicit) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      questions.push(request.params.message);
      return { action: "accept", content: { confirm: true } };
    });
  }
  let transport;
  if (target.url) {
    const { StreamableHTTPClientTransport } = load("@modelcontextprotocol/sdk/client/streamableHttp.js");
    transport = new StreamableHTTPClientTransport(new URL(target.url));
  } else {
    const { StdioClientTransport } = load("@modelcontextprotocol/sdk/client/stdio.js");
    transport = new StdioClientTransport({ ...target, stderr: "inherit" });
  }
  const original = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version) => {
    protocolVersion = version;
    original?.(version);
  };
  await client.connect(transport);
  return client;
}

async function connectClient2() {
  const { Client, StreamableHTTPClientTransport } = load("@modelcontextprotocol/client");
  const client = new Client(info, {
    capabilities: elicit ? { elicitation: { form: {} } } : {},
    versionNegotiation: { mode: "auto" },
  });
  if (elicit) {
    client.setRequestHandler("elicitation/create", async (request) => {
      questions.push(request.params.message);
      return { action: "accept", content: { confirm: true } };
    });
  }
  let transport;
  if (target.url) {
    transport = new StreamableHTTPClientTransport(new URL(target.url));
  } else {
    const { StdioClientTransport } = load("@modelcontextprotocol/client/stdio");
    transport = new StdioClientTransport({ ...target, stderr: "inherit" });
  }
  await client.connect(transport);
  protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  return client;
}

const client = flavour === "sdk1" ? await connectSdk1() : await connectClient2();
try {
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  const configuration = await client.readResource({ uri: "telco-mcp://configuration" });
  const config = JSON.parse(configuration.contents[0].text);
  const read = await client.callTool({ name: "signalwire_list_sip_gateways", arguments: {} });
  const calls = await client.callTool({ name: "sipgate_list_calls", arguments: {} });
  const call = calls.structuredContent.calls[0];
  const write = await client.callTool({
    name: "sipgate_hold_call",
    arguments: { call_id: call.call_id, value: !call.hold },
  });
  const after = await client.callTool({ name: "sipgate_list_calls", arguments: {} });
  const held = after.structuredContent.calls.find((c) => c.call_id === call.call_id)?.hold ?? null;
  process.stdout.write(
    JSON.stringify({
      protocolVersion,
      server: client.getServerVersion(),
      tools,
      config: { mode: config.mode, confirmation: config.confirmation.mode },
      read: { isError: read.isError ?? false, items: read.structuredContent?.items?.length ?? 0 },
      write: { isError: write.isError ?? false, status: write.structuredContent?.status ?? null },
      call: { id: call.call_id, wanted: !call.hold, held },
      questions,
    }) + "\n",
  );
} finally {
  await client.close();
}
