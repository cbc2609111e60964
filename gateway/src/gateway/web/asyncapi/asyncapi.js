// Renders /asyncapi.json as a readable page: each channel (Kafka topic or the partner webhook), its messages,
// their headers and data fields, and an example. Built with DOM calls only (no HTML strings), so nothing in the
// document can inject markup; the page's CSP allows this origin's scripts only.

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
};

// `code` spans of a description, as <code> elements; the rest as text.
function prose(text) {
  const p = el("p");
  String(text || "").split("`").forEach((part, i) => p.append(i % 2 ? el("code", {}, part) : part));
  return p;
}

function resolver(doc) {
  const resolve = (node) => {
    let seen = 0;
    while (node && typeof node.$ref === "string" && node.$ref.startsWith("#/") && seen++ < 20) {
      node = node.$ref.slice(2).split("/").map(decodeURIComponent).reduce((at, key) => (at ? at[key] : undefined), doc);
    }
    return node || {};
  };
  return resolve;
}

function typeOf(schema, resolve) {
  if (schema.$ref) return schema.$ref.split("/").pop();
  if ("const" in schema) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const options = schema.anyOf || schema.oneOf;
  if (options) return options.map((s) => typeOf(s, resolve)).join(" | ");
  let type = schema.type || "any";
  if (type === "array" && schema.items) type = `array of ${typeOf(schema.items, resolve)}`;
  if (type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object") {
    type = `object of ${typeOf(schema.additionalProperties, resolve)}`;
  }
  return schema.format ? `${type} (${schema.format})` : type;
}

function fieldsTable(schema, resolve, caption) {
  const required = new Set(schema.required || []);
  const table = el("table", { class: "fields" }, el("caption", {}, caption));
  table.append(el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, "required"), el("th", {}, "notes")));
  for (const [name, sub] of Object.entries(schema.properties || {})) {
    const notes = sub.description || resolve(sub).description || ""; // pydantic's titles only repeat the name
    table.append(
      el(
        "tr",
        {},
        el("td", {}, el("code", {}, name)),
        el("td", {}, typeOf(sub, resolve)),
        el("td", {}, required.has(name) ? "yes" : "no"),
        el("td", {}, notes),
      ),
    );
  }
  return table;
}

function messageBlock(message, resolve) {
  const details = el("details", { class: "message", id: `message-${message.name}` });
  const summary = el("summary", {}, el("code", {}, message.name), " — ");
  summary.append(...prose(message.summary || message.title).childNodes);
  details.append(summary);
  if (message.description) details.append(prose(message.description));
  details.append(fieldsTable(resolve(message.headers), resolve, "Headers"));
  const key = message.bindings && message.bindings.kafka && message.bindings.kafka.key;
  if (key) details.append(prose(`Kafka record key: ${key.description || key.type}`));
  const payload = resolve(message.payload);
  for (const envelope of payload.oneOf ? payload.oneOf.map(resolve) : [payload]) {
    const caption = payload.oneOf ? `data of ${envelope.title}` : "data";
    details.append(fieldsTable(resolve(envelope.properties.data), resolve, caption));
  }
  for (const example of message.examples || []) {
    details.append(el("h4", {}, `Example: ${example.name || ""}`));
    if (example.headers) details.append(el("pre", { class: "example" }, JSON.stringify(example.headers, null, 2)));
    details.append(el("pre", { class: "example" }, JSON.stringify(example.payload, null, 2)));
  }
  return details;
}

function render(doc) {
  const resolve = resolver(doc);
  document.getElementById("title").textContent = doc.info.title;
  document.title = doc.info.title;
  const intro = document.getElementById("intro");
  intro.className = "intro";
  intro.append(el("p", { class: "muted" }, `AsyncAPI ${doc.asyncapi}, version ${doc.info.version}`));
  for (const paragraph of doc.info.description.split(/\n\s*\n/)) intro.append(prose(paragraph.replace(/\n/g, " ")));
  const servers = el("ul");
  for (const [name, server] of Object.entries(doc.servers || {})) {
    servers.append(el("li", {}, el("code", {}, name), ` ${server.protocol}://${server.host} — ${server.description || server.title || ""}`));
  }
  intro.append(el("h2", {}, "Servers"), servers);

  const toc = el("ul");
  const channels = document.getElementById("channels");
  for (const [id, channel] of Object.entries(doc.channels)) {
    const heading = channel.address || channel.title;
    toc.append(el("li", {}, el("a", { href: `#channel-${id}` }, heading)));
    const section = el("section", { class: "channel", id: `channel-${id}` });
    section.append(el("h2", {}, el("code", {}, heading)), prose(channel.description));
    const messages = Object.values(channel.messages || {}).map(resolve);
    section.append(el("p", { class: "muted" }, `${messages.length} message type(s)`));
    for (const message of messages) section.append(messageBlock(message, resolve));
    channels.append(section);
  }
  document.getElementById("toc").append(el("h2", {}, "Channels"), toc);
}

async function main() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/asyncapi.json", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
    status.textContent = "";
    status.hidden = true;
  } catch (error) {
    status.textContent = `Could not load /asyncapi.json: ${error.message}`;
  }
}

main();
