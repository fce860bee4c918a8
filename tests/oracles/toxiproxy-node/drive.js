// Drives a Toxiproxy-compatible API with the real toxiproxy-node-client and prints what it saw
// as JSON: node drive.js API_URL ECHO_PORT (tests/chaos/test_node_client.py runs it).
"use strict";
const net = require("node:net");
const { Toxiproxy } = require("toxiproxy-node-client");

const [apiUrl, echoPort] = process.argv.slice(2);

const ATTRIBUTES = {
  latency: { latency: 10, jitter: 2 },
  bandwidth: { rate: 100 },
  slow_close: { delay: 10 },
  timeout: { timeout: 0 },
  reset_peer: { timeout: 10 },
  slicer: { average_size: 10, size_variation: 2, delay: 5 },
  limit_data: { bytes: 1000 },
};

function portOf(listen) {
  return Number(listen.slice(listen.lastIndexOf(":") + 1));
}

// Median seconds for 16 bytes to go through the proxy to the echo server and back.
async function pings(port, count) {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const rounds = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      let got = 0;
      const onData = (chunk) => {
        got += chunk.length;
        if (got >= 16) {
          socket.off("data", onData);
          resolve();
        }
      };
      socket.on("data", onData);
      socket.once("error", reject);
      socket.write(Buffer.alloc(16, 112));
    });
    rounds.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  socket.destroy();
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(rounds.length / 2)];
}

async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return error.message;
  }
  return null;
}

async function main() {
  const toxiproxy = new Toxiproxy(apiUrl);
  const seen = { version: await toxiproxy.getVersion() };
  const upstream = `127.0.0.1:${echoPort}`;
  const proxy = await toxiproxy.createProxy({ name: "node", listen: "127.0.0.1:0", upstream });
  seen.created = proxy.toJson();
  seen.duplicate = await failure(toxiproxy.createProxy({ name: "node", listen: "127.0.0.1:0", upstream }));
  seen.names = Object.keys(await toxiproxy.getAll()).sort();

  seen.toxics = {};
  for (const [type, attributes] of Object.entries(ATTRIBUTES)) {
    const toxic = await proxy.addToxic({ name: `${type}_t`, type, stream: "upstream", toxicity: 1, attributes });
    const fetched = await proxy.getToxic(`${type}_t`);
    await toxic.remove();
    seen.toxics[type] = { added: toxic.toJson(), fetched: fetched.toJson() };
  }
  seen.removed = await failure(proxy.getToxic("latency_t"));

  const port = portOf(proxy.listen);
  const baseline = await pings(port, 5);
  const latency = await proxy.addToxic({ name: "slow", type: "latency", stream: "downstream", toxicity: 1, attributes: { latency: 100, jitter: 0 } });
  const slowed = await pings(port, 5);
  const updated = await latency.update({ attributes: { latency: 0, jitter: 0 } });
  seen.updated = updated.toJson();
  await latency.remove();
  seen.latency = { baseline, slowed };

  seen.disabled = (await proxy.update({ ...proxy.toJson(), enabled: false })).toJson();
  seen.refused = await new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => { socket.destroy(); resolve(false); });
    socket.once("error", (error) => resolve(error.code));
  });
  seen.populated = Object.keys(await toxiproxy.populate([
    { name: "node", listen: "127.0.0.1:0", upstream },
    { name: "node2", listen: "127.0.0.1:0", upstream },
  ])).sort();
  await toxiproxy.reset();
  seen.afterReset = (await toxiproxy.get("node")).toJson();
  for (const each of Object.values(await toxiproxy.getAll())) {
    await each.remove();
  }
  seen.missing = await failure(toxiproxy.get("node"));
  seen.finalNames = Object.keys(await toxiproxy.getAll());
  process.stdout.write(JSON.stringify(seen));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
