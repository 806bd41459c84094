// s3-resize-proxy demo page. Everything it shows comes from /demo.json (built from the key grammar), so a new
// mode or output format appears here without a change to this file. No libraries, no network beyond the proxy.
"use strict";

const SHOWN_HEADERS = ["X-Cache", "Server-Timing", "Content-Type", "Cache-Control", "ETag"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const path = (key) => encodeURI("/" + key);
const absolute = (key) => location.origin + path(key);
const bytes = (n) => `${n.toLocaleString("en-US")} B`;
const kilobytes = (n) => (n < 1024 ? bytes(n) : `${(n / 1024).toFixed(1)} KB`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A key with line-break opportunities after its separators, for narrow captions.
const breakable = (key) => key.split(/(?<=[_/@.])/).flatMap((part) => [part, el("wbr")]);
const slug = (key) => "s-" + key.replace(/[^A-Za-z0-9]+/g, "-");

function copyButton(text) {
  const button = el("button", { type: "button", class: "copy", title: "Copy", text: "copy" });
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Not a secure context (the demo opened by another host name): the old way.
      const area = el("textarea", { style: "position:fixed;opacity:0" });
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "copied";
    button.classList.add("done");
    setTimeout(() => {
      button.textContent = "copy";
      button.classList.remove("done");
    }, 1200);
  });
  return button;
}

function cacheBadge(value) {
  if (!value) return null;
  return el("span", { class: `cache cache-${value}`, text: value });
}

// GET a key, as the page's own request (no browser cache, so X-Cache is the proxy's answer of now). A 503
// means the render queue is full: wait as Retry-After says and ask again, a few times.
const IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

async function fetchKey(key) {
  for (let attempt = 0; ; attempt++) {
    // The Accept an <img> sends (fetch() would send */*), so that --auto-format answers as it would the page.
    const response = await fetch(path(key), { cache: "no-store", headers: { Accept: IMAGE_ACCEPT } });
    if (response.status === 503 && attempt < 5) {
      await sleep(1000 * (Number(response.headers.get("Retry-After")) || 1));
      continue;
    }
    return { response, blob: await response.blob() };
  }
}

function loaded(img) {
  return new Promise((resolve) => {
    if (img.complete && img.naturalWidth) resolve(true);
    img.addEventListener("load", () => resolve(true), { once: true });
    img.addEventListener("error", () => resolve(false), { once: true });
  });
}

// ---- the key grammar ------------------------------------------------------------------------------------

function renderGrammar(doc) {
  const parts = [
    ["g-stem", "<stem>"], ["", "_"], ["g-size", "<W>"], ["", "x"], ["g-size", "<H>"],
    ["g-opt", "["], ["g-mode", "_<mode>"], ["g-opt", "]"],
    ["g-opt", "["], ["g-dpr", "@<d>x"], ["g-opt", "]"], ["", "."], ["g-ext", "<ext>"],
  ];
  document.getElementById("grammar-line").replaceChildren(...parts.map(([c, t]) => el("span", { class: c, text: t })));
  const chips = (items) => el("span", { class: "chips" }, items.map((t) => el("span", { class: "chip", text: t })));
  const rows = [
    ["stem", "g-stem", [
      "the original's key without its extension: ", el("code", { text: "photos/sunset" }),
      " is made from ", el("code", { text: "photos/sunset.<ext>" }), ", else from the other source extensions ",
      chips(doc.source_extensions),
    ]],
    ["W x H", "g-size", [
      "CSS pixels, no leading zeros; one of them may be ", el("code", { text: "0" }),
      " (follow the aspect ratio). Never upscaled; at most ", el("code", { text: String(doc.max_dimension) }),
      " after ", el("code", { text: "@d" }), ".",
    ]],
    ["mode", "g-mode", [
      el("ul", { class: "modes" }, doc.modes.map((m) =>
        el("li", {}, el("b", { text: m.name }), m.default ? " (default)" : "", m.about ? ` — ${m.about}` : ""))),
    ]],
    ["@d", "g-dpr", ["device pixel ratio: ", chips(doc.densities.map((d) => `@${d}x`)), " multiplies W and H"]],
    ["ext", "g-ext", [
      "the output format, any case (the original may be another): ", chips(doc.formats.map((f) => f.ext)),
    ]],
  ];
  document.getElementById("grammar-parts").replaceChildren(
    ...rows.flatMap(([name, colour, body]) => [el("dt", { class: colour, text: name }), el("dd", {}, body)]),
  );
}

// ---- try a key ------------------------------------------------------------------------------------------

async function showKey(key) {
  key = key.trim().replace(/^\/+/, "");
  if (!key) return;
  const result = document.getElementById("try-result");
  const stage = document.getElementById("try-stage");
  const headers = document.getElementById("try-headers");
  result.hidden = false;
  result.dataset.state = "loading";
  stage.replaceChildren(el("div", { class: "error", style: "color:inherit", text: "…" }));
  headers.replaceChildren();
  let answer;
  try {
    answer = await fetchKey(key);
  } catch (error) {
    stage.replaceChildren(el("div", { class: "error", text: String(error) }));
    result.dataset.state = "failed";
    return;
  }
  const { response, blob } = answer;
  const facts = [
    ["Status", `${response.status} ${response.statusText}`, "status"],
    ["Size", bytes(blob.size), "size"],
    ["Dimensions", "…", "dimensions"],
    ...SHOWN_HEADERS.map((name) => [name, response.headers.get(name) || "—", name.toLowerCase()]),
  ];
  const cells = {};
  headers.replaceChildren(...facts.flatMap(([label, value, field]) => {
    cells[field] = el("dd", { "data-field": field, text: value });
    return [el("dt", { text: label }), cells[field]];
  }));
  const type = response.headers.get("Content-Type") || "";
  if (response.ok && type.startsWith("image/")) {
    const img = el("img", { alt: key, src: URL.createObjectURL(blob) });
    stage.replaceChildren(img);
    const ok = await loaded(img);
    cells.dimensions.textContent = ok ? `${img.naturalWidth} × ${img.naturalHeight}` : "not decodable here";
  } else {
    stage.replaceChildren(el("div", { class: "error", text: type.startsWith("text/") ? await blob.text() : type }));
    cells.dimensions.textContent = "—";
  }
  result.dataset.key = key;
  result.dataset.state = "done";
}

function renderTry(doc) {
  const input = document.getElementById("try-key");
  input.placeholder = doc.examples[0];
  document.getElementById("try-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showKey(input.value || input.placeholder);
  });
  document.getElementById("try-examples").replaceChildren(
    "e.g.",
    ...doc.examples.map((key) => el("a", {
      href: path(key),
      text: key,
      onclick: (event) => {
        event.preventDefault();
        input.value = key;
        showKey(key);
      },
    })),
  );
}

// ---- the samples ----------------------------------------------------------------------------------------

function renderTile(sample, tile) {
  const [boxWidth, boxHeight] = tile.box;
  const img = el("img", {
    alt: tile.key,
    width: Math.round(tile.width / tile.dpr),
    height: Math.round(tile.height / tile.dpr),
    "data-key": tile.key,
    "data-width": tile.width,
    "data-height": tile.height,
  });
  const box = el("div", { class: "box", style: `width:${boxWidth}px;height:${boxHeight}px` });
  const facts = el("span", { class: "facts", text: "…" });
  const figure = el("figure", { class: "tile", "data-state": "loading" },
    box,
    el("figcaption", {},
      el("span", { class: "label" }, el("span", { text: tile.label }), copyButton(absolute(tile.key))),
      el("a", { class: "key", href: path(tile.key) }, breakable(tile.key)),
      facts));

  const done = (async () => {
    let answer;
    try {
      answer = await fetchKey(tile.key);
    } catch (error) {
      answer = null;
      box.replaceChildren(el("div", { class: "error", text: String(error) }));
    }
    if (answer && !answer.response.ok) {
      const reason = (await answer.blob.text()).trim();
      box.replaceChildren(el("div", { class: "error", text: `${answer.response.status}: ${reason}` }));
    }
    if (!answer || !answer.response.ok) {
      figure.dataset.state = "failed";
      facts.textContent = "";
      return;
    }
    img.src = URL.createObjectURL(answer.blob);
    img.classList.add("checker");
    box.replaceChildren(img);
    const ok = await loaded(img);
    const size = ok ? `${img.naturalWidth}×${img.naturalHeight}` : "not decodable here";
    const matches = ok && img.naturalWidth === tile.width && img.naturalHeight === tile.height;
    const sent = (answer.response.headers.get("Content-Type") || "").replace("image/", "");
    const negotiated = sent && `image/${sent}` !== tile.content_type;  // --auto-format answered in another format
    facts.replaceChildren(
      ...[
        `${bytes(answer.blob.size)} · ${size} `,
        negotiated ? el("span", { class: "cache cache-sent", text: `sent as ${sent.toUpperCase()}`, title: "--auto-format, Vary: Accept" }) : null,
        cacheBadge(answer.response.headers.get("X-Cache")),
        matches ? null : el("span", { class: "warn", text: ` expected ${tile.width}×${tile.height}` }),
      ].filter(Boolean),
    );
    figure.dataset.state = matches ? "done" : "failed";
  })();
  return { figure, done };
}

function renderSample(sample) {
  const [storedWidth, storedHeight] = sample.stored;
  const kind = sample.content_type.replace("image/", "").toUpperCase();
  const original = el("div", { class: "original" },
    el("h2", {}, el("a", { href: path(sample.key), text: sample.key })),
    el("a", { class: "frame checker", href: path(sample.key) },
      el("img", {
        alt: sample.key, src: path(sample.preview || sample.key), "data-key": sample.preview || sample.key,
        "data-width": sample.width, "data-height": sample.height,
      })),
    el("p", { class: "meta", text: `original · ${sample.width}×${sample.height} · ${kind} · ${kilobytes(sample.bytes)}` }),
    el("p", { class: "about", text: sample.about }),
    sample.orientation !== 1
      ? el("div", { class: "stored" },
        `As stored (${storedWidth}×${storedHeight}, EXIF orientation ignored):`,
        el("img", { alt: `${sample.key} as stored`, src: path(sample.key), style: "image-orientation: none" }))
      : null);
  const waits = [];
  const groups = sample.groups.map((group) => {
    const tiles = group.tiles.map((tile) => renderTile(sample, tile));
    waits.push(...tiles.map((t) => t.done));
    return el("div", { class: "group" },
      el("h3", {}, group.name, el("span", { text: group.note })),
      el("div", { class: "tiles" }, tiles.map((t) => t.figure)));
  });
  const section = el("section", { class: "card sample", id: slug(sample.key) }, original, el("div", {}, groups));
  return { section, waits };
}

function renderTools(doc) {
  document.getElementById("commands").replaceChildren(...doc.commands.map((command) =>
    el("div", { class: "command" }, el("pre", { text: command }), copyButton(command))));
}

async function main() {
  const doc = await (await fetch("/demo.json", { cache: "no-store" })).json();
  renderGrammar(doc);
  renderTry(doc);
  showKey(doc.examples[0]);
  renderTools(doc);
  document.getElementById("nav").replaceChildren(
    ...doc.samples.map((s) => el("a", { href: `#${slug(s.key)}`, text: s.key })));
  const waits = [];
  const container = document.getElementById("samples");
  for (const sample of doc.samples) {
    const { section, waits: more } = renderSample(sample);
    container.append(section);
    waits.push(...more);
  }
  const originals = [...container.querySelectorAll(".original img")].map(loaded);
  await Promise.all([...waits, ...originals]);
  document.body.dataset.failed = String(document.querySelectorAll('.tile[data-state="failed"]').length);
  document.body.dataset.state = "done";
}

main().catch((error) => {
  document.body.dataset.state = "failed";
  document.getElementById("samples").replaceChildren(el("p", { class: "card", text: `The page failed: ${error}` }));
});
