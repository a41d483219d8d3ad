// Admin view of the studios: create, rename/recolour/describe, delete, assign and unassign
// recorders. Every change goes to the studio API; its validation message is shown as it comes.
import { api } from "./api.js";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

export async function renderStudiosAdmin(root, { isAdmin, onError, onChanged }) {
  if (!isAdmin) {
    root.replaceChildren(el("h2", { text: "Studios" }), el("p", { class: "muted", text: "Only administrators manage studios." }));
    return;
  }
  const [studios, recorders] = await Promise.all([api("/api/studios/"), api("/api/recorders/")]);
  const msg = el("p", { id: "studios-message", class: "msg", role: "status", "aria-live": "polite" });
  const say = (text, ok) => {
    msg.className = `msg ${ok ? "ok" : "error"}`;
    msg.textContent = text;
  };
  const reload = async (text) => {
    await onChanged(); // the rest of the app (the studio picker) shows the change before we say it is done
    await renderStudiosAdmin(root, { isAdmin, onError, onChanged });
    const m = document.getElementById("studios-message");
    m.className = "msg ok";
    m.textContent = text;
  };
  const run = async (what, fn, done) => {
    try {
      await fn();
      await reload(done);
    } catch (err) {
      if (err.status === 401) onError(err);
      say(`${what}: ${err.message}`, false); // the server's validation message
    }
  };

  const create = el("form", { id: "studio-create", class: "row", "aria-label": "New studio" },
    el("label", { for: "sc-name" }, "Name"), el("input", { id: "sc-name", required: true, placeholder: "Studio name" }),
    el("label", { for: "sc-id" }, "Id (optional)"), el("input", { id: "sc-id", placeholder: "studio-3", size: 12 }),
    el("label", { for: "sc-color" }, "Colour"), el("input", { id: "sc-color", type: "color", value: "#2196F3" }),
    el("label", { for: "sc-desc" }, "Description"), el("input", { id: "sc-desc", placeholder: "optional" }),
    el("button", { class: "btn", type: "submit" }, "Create studio"));
  create.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { name: create.querySelector("#sc-name").value, color: create.querySelector("#sc-color").value.toUpperCase() };
    const id = create.querySelector("#sc-id").value.trim();
    const desc = create.querySelector("#sc-desc").value.trim();
    if (id) body.id = id;
    if (desc) body.description = desc;
    run("Not created", () => api("/api/studios/", { method: "POST", body }), `Studio ${body.name} created.`);
  });

  const byRecorder = new Map(studios.filter((s) => s.recorder_id).map((s) => [s.recorder_id, s]));
  const rows = studios.map((s) => {
    const name = el("input", { value: s.name, "aria-label": `Name of ${s.name}`, class: "st-name" });
    const color = el("input", { type: "color", value: s.color || "#2196F3", "aria-label": `Colour of ${s.name}`, class: "st-color" });
    const desc = el("input", { value: s.description || "", "aria-label": `Description of ${s.name}`, class: "st-desc", placeholder: "description" });
    const assign = el("select", { "aria-label": `Recorder of ${s.name}`, class: "st-recorder" },
      el("option", { value: "", text: "(no recorder)" }),
      recorders.map((r) => {
        const other = byRecorder.get(r.id);
        const note = other && other.id !== s.id ? ` — now in ${other.name}` : "";
        return el("option", { value: String(r.id), selected: r.id === s.recorder_id, text: `${r.name}${note}` });
      }));
    assign.addEventListener("change", () => {
      const rid = assign.value ? Number(assign.value) : null;
      run(rid ? "Not assigned" : "Not unassigned",
        () => api(`/api/studios/${encodeURIComponent(s.id)}/assign`, { method: "POST", body: { recorder_id: rid } }),
        rid ? `Recorder ${rid} assigned to ${s.name}.` : `${s.name} has no recorder now.`);
    });
    const save = el("button", { class: "btn btn-ghost btn-small act-save", type: "button" }, "Save");
    save.addEventListener("click", () => {
      run("Not saved", () => api(`/api/studios/${encodeURIComponent(s.id)}`, {
        method: "PUT", body: { name: name.value, color: color.value.toUpperCase(), description: desc.value },
      }), `Studio ${name.value} saved.`);
    });
    const del = el("button", { class: "btn btn-danger btn-small act-delete", type: "button" }, "Delete");
    del.addEventListener("click", () => {
      if (!confirm(`Delete studio ${s.name}? Its recorder and recordings stay.`)) return;
      run("Not deleted", () => api(`/api/studios/${encodeURIComponent(s.id)}`, { method: "DELETE" }), `Studio ${s.name} deleted.`);
    });
    return el("tr", { "data-studio-id": s.id },
      el("td", {}, el("span", { class: "swatch", style: `background:${s.color}` }), " ", el("code", { text: s.id })),
      el("td", {}, name), el("td", {}, color), el("td", {}, desc), el("td", {}, assign),
      el("td", { class: "actions" }, save, " ", del));
  });
  root.replaceChildren(
    el("div", { class: "panel-head" }, el("h2", { text: "Studios" }), el("span", { class: "muted", text: `${studios.length} studio${studios.length === 1 ? "" : "s"}, ${recorders.length} recorders` })),
    el("section", { class: "panel" }, el("h3", { text: "New studio" }), create),
    msg,
    el("section", { class: "panel" },
      studios.length
        ? el("table", { class: "recordings", id: "studios-table" },
          el("thead", {}, el("tr", {}, ["Id", "Name", "Colour", "Description", "Recorder", ""].map((t) => el("th", { text: t })))),
          el("tbody", {}, rows))
        : el("p", { class: "muted", text: "No studios yet: create the first one above." })),
  );
}
