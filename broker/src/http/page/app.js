// The live view: one EventSource on /api/stream; each "snapshot" event
// redraws the summary, the topic tree and the connections. Selecting a
// topic shows its newest kept message from /api/topic.
"use strict";

const $ = (id) => document.getElementById(id);
let selected = null;
let lastTopics = [];

function cell(text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "n";
  return td;
}

function bytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}

function rate(r) {
  return r === null || r === undefined ? "–" : r.toFixed(r < 10 ? 1 : 0);
}

function summary(server) {
  const t = server.traffic;
  const items = [
    ["version", server.version],
    ["uptime", Math.floor(server.uptime_s) + " s"],
    ["doors", server.doors.map((d) => d.door + " " + d.addr).join(", ")],
    ["connections", server.connections],
    ["topics", server.topics],
    ["subscriptions", server.subscriptions],
    ["msgs in/out", t.msgs_in + " / " + t.msgs_out],
    ["bytes in/out", bytes(t.bytes_in) + " / " + bytes(t.bytes_out)],
    ["memory", bytes(server.memory.rss_bytes)],
  ];
  const dl = $("summary");
  dl.replaceChildren(...items.map(([k, v]) => {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    div.append(dt, dd);
    return div;
  }));
}

function drawTopics() {
  const filter = $("filter").value.trim();
  const rows = lastTopics
    .filter((t) => !filter || t.topic.includes(filter))
    .map((t) => {
      const tr = document.createElement("tr");
      tr.dataset.topic = t.topic;
      if (t.topic === selected) tr.className = "selected";
      const depth = t.topic.split("/").length - 2;
      const name = document.createElement("td");
      name.className = "name";
      name.style.paddingLeft = (0.4 + 1.1 * depth) + "em";
      if (depth) {
        const branch = document.createElement("span");
        branch.className = "depth";
        branch.textContent = "└ ";
        name.append(branch);
      }
      name.append(t.topic.slice(t.topic.lastIndexOf("/")));
      name.title = t.topic;
      tr.append(name, cell(t.seq, true), cell(rate(t.rate), true),
        cell(t.subscribers, true), cell(t.history, true));
      tr.addEventListener("click", () => select(t.topic));
      return tr;
    });
  $("topics").tBodies[0].replaceChildren(...rows);
}

function drawConnections(page) {
  const rows = page.connections.map((c) => {
    const tr = document.createElement("tr");
    tr.append(cell(c.id), cell(c.door), cell(c.format), cell(c.name || ""),
      cell(c.peer), cell(c.subscriptions, true), cell(c.msgs_in, true),
      cell(c.msgs_out, true), cell(bytes(c.pending_output), true),
      cell(c.dropped, true));
    return tr;
  });
  $("connections").tBodies[0].replaceChildren(...rows);
}

async function showMessage() {
  if (!selected) return;
  $("selected-name").textContent = selected;
  const res = await fetch("/api/topic?name=" + encodeURIComponent(selected));
  const body = await res.json();
  $("message").textContent = res.ok
    ? "#" + body.seq + " at " + new Date(body.ts).toISOString() + "\n" +
      JSON.stringify(body.value, null, 2)
    : body.error;
}

function select(topic) {
  selected = topic;
  drawTopics();
  showMessage().catch((e) => { $("message").textContent = String(e); });
}

function connect() {
  const source = new EventSource("/api/stream");
  source.addEventListener("snapshot", (e) => {
    const snap = JSON.parse(e.data);
    $("status").textContent = "live";
    $("status").className = "status live";
    summary(snap.server);
    lastTopics = snap.topics.topics;
    drawTopics();
    drawConnections(snap.connections);
    if (selected) showMessage().catch(() => {});
  });
  source.onerror = () => {
    $("status").textContent = "reconnecting…";
    $("status").className = "status";
  };
}

$("filter").addEventListener("input", drawTopics);
connect();
