"""The web page at ``/``: self-contained (no CDN, no external font or script), so it works offline and
behind a firewall. Drop or pick photos; each is sent to /v1/predict, its faces boxed with their emotion
and bars; "heat maps" also asks /v1/explain. A token, if the server wants one, is kept for the tab only."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fer-zoo serve</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .4em; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 1.5em; text-align: center; cursor: pointer; }
  #drop.over { background: #eef6ee; border-color: #3a3; }
  #bar { margin: .6em 0; display: flex; gap: 1.2em; align-items: center; flex-wrap: wrap; }
  #model { color: #555; font-size: .9em; }
  .result { display: flex; gap: 1em; margin: 1em 0; align-items: flex-start; flex-wrap: wrap; }
  .photo { position: relative; display: inline-block; max-width: 640px; }
  .photo img.picture { display: block; max-width: 100%; }
  .face-box { position: absolute; border: 3px solid #3c3; box-sizing: border-box; }
  .face-label { position: absolute; left: -3px; bottom: 100%; background: #3c3; color: #000; padding: 0 .3em;
                font-weight: 600; white-space: nowrap; }
  .heat { position: absolute; pointer-events: none; }
  .faces { min-width: 260px; }
  .bars { margin-bottom: .8em; }
  .bars div { display: flex; align-items: center; gap: .4em; font-size: .85em; }
  .bars span.name { width: 5.5em; }
  .bars span.fill { display: inline-block; height: .8em; background: #3a3; }
  .error { color: #b00; }
</style>
</head>
<body>
<h1>fer-zoo serve</h1>
<div id="model">loading the model's description...</div>
<div id="bar">
  <label><input type="checkbox" id="heat"> heat maps</label>
  <label id="token-row" hidden>token <input type="password" id="token" size="24"></label>
</div>
<div id="drop">Drop photos here, or click to choose them</div>
<input type="file" id="files" accept="image/*" multiple hidden>
<div id="results"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const tokenBox = $("token");
tokenBox.value = sessionStorage.getItem("fer-zoo-token") || "";
tokenBox.addEventListener("change", () => { sessionStorage.setItem("fer-zoo-token", tokenBox.value); describe(); });

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (tokenBox.value) h["Authorization"] = "Bearer " + tokenBox.value;
  return h;
}

async function call(path, options) {
  const response = await fetch(path, options);
  if (response.status === 401) $("token-row").hidden = false;
  const body = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
  return body;
}

async function describe() {
  try {
    const m = await call("/v1/model", {headers: headers()});
    $("model").textContent = m.source + " · " + m.classes.length + " classes · " + m.runtime +
      " · detector " + (m.detector || "none (each image is a face)");
    $("heat").disabled = !m.explain;
  } catch (e) { $("model").textContent = "model: " + e.message; }
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function place(node, box, width, height) {
  node.style.left = (100 * box[0] / width) + "%";
  node.style.top = (100 * box[1] / height) + "%";
  node.style.width = (100 * box[2] / width) + "%";
  node.style.height = (100 * box[3] / height) + "%";
}

async function show(file) {
  const result = el("div", "result");
  const photo = el("div", "photo");
  const picture = el("img", "picture");
  picture.alt = file.name;
  picture.src = URL.createObjectURL(file);
  photo.appendChild(picture);
  const faces = el("div", "faces");
  faces.appendChild(el("div", "", file.name));
  result.append(photo, faces);
  $("results").prepend(result);
  const type = {"Content-Type": file.type || "application/octet-stream"};
  try {
    const answer = await call("/v1/predict", {method: "POST", headers: headers(type), body: file});
    const image = answer.images[0];
    if (!image.faces.length) faces.appendChild(el("div", "", "no face found"));
    image.faces.forEach((face, i) => {
      const box = el("div", "face-box");
      place(box, face.box, image.width, image.height);
      box.appendChild(el("span", "face-label", face.label));
      photo.appendChild(box);
      const bars = el("div", "bars");
      bars.appendChild(el("strong", "", "face " + (i + 1) + ": " + face.label));
      Object.entries(face.probabilities).sort((a, b) => b[1] - a[1]).forEach(([name, p]) => {
        const row = el("div");
        const fill = el("span", "fill");
        fill.style.width = Math.round(120 * p) + "px";
        row.append(el("span", "name", name), fill, el("span", "", (100 * p).toFixed(1) + "%"));
        bars.appendChild(row);
      });
      faces.appendChild(bars);
    });
    if ($("heat").checked && image.faces.length) {
      const why = await call("/v1/explain?format=json", {method: "POST", headers: headers(type), body: file});
      why.faces.forEach((face) => {
        const heat = el("img", "heat");
        heat.alt = "heat map of " + face.label;
        heat.src = face.heatmap;
        place(heat, [face.crop[0], face.crop[1], face.crop[2] - face.crop[0], face.crop[3] - face.crop[1]],
              why.width, why.height);
        photo.appendChild(heat);
      });
    }
  } catch (e) {
    faces.appendChild(el("div", "error", e.message));
  }
}

function take(files) { Array.from(files).forEach(show); }
const drop = $("drop");
drop.addEventListener("click", () => $("files").click());
$("files").addEventListener("change", (e) => { take(e.target.files); e.target.value = ""; });
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); take(e.dataTransfer.files); });
describe();
</script>
</body>
</html>
"""
