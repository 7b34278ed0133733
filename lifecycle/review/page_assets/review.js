// The review page: builds the summary, counters, anomalies and the order table from the
// JSON the page embeds. Every value from the journal goes in as text (textContent or a
// text node), never as markup. Orders open by their key: a link "#order=<key>" (from
// the table, the anomalies, the counters or the list of orders worth a trace) opens the
// order's numbered trace under its row, clearing the filter's hold on it if needed.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("review-data").textContent);
  const summary = data.summary;
  const byKey = new Map(data.orders.map((o) => [o.key, o]));

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function seconds(value) {
    return value === null || value === undefined ? "\u2014" : value.toFixed(3);
  }

  function orderHref(key) {
    return "#order=" + encodeURIComponent(key);
  }

  function orderLink(key) {
    return el("a", { href: orderHref(key), class: "order-link mono", "data-key": key, text: key });
  }

  function table(headers, rows, numeric) {
    const head = el("tr", {}, ...headers.map((h, i) =>
      el("th", { class: numeric && numeric[i] ? "num" : null, text: h })));
    const body = el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c, i) =>
      el("td", { class: numeric && numeric[i] ? "num" : null }, c)))));
    return el("table", {}, el("thead", {}, head), body);
  }

  // --- summary ---------------------------------------------------------------------------

  function stat(label, value, bad) {
    return el("div", { class: bad ? "stat bad" : "stat" },
      el("div", { class: "value", text: String(value) }), el("div", { class: "label", text: label }));
  }

  function renderSummary() {
    const s = summary;
    const ended = Object.values(s.ended).reduce((a, b) => a + b, 0);
    const working = Object.values(s.working).reduce((a, b) => a + b, 0);
    const span = s.first_at === null ? "no engine time" : seconds(s.first_at) + " .. " + seconds(s.last_at);
    const stats = el("div", { class: "stats" },
      stat("orders", s.orders), stat("ended", ended), stat("still working", working),
      stat("fills (distinct trade ids)", s.fills), stat("position", s.position),
      stat("anomalies", s.anomalies, s.anomalies > 0),
      stat("refused moves", s.refused, s.refused > 0),
      stat("calls that raised", s.errors, s.errors > 0),
      stat("transitions fired", s.fired), stat("inputs", s.inputs),
      stat("records", s.records), stat("recoveries", s.recoveries),
      stat("torn tail dropped (bytes)", s.dropped_bytes, s.dropped_bytes > 0),
      stat("engine time (s)", span),
      stat("edge coverage", s.coverage.covered + "/" + s.coverage.total + " (" +
        s.coverage.percent.toFixed(1) + " %)"));
    const parts = [stats];
    const tables = el("div", { class: "tables" });
    tables.append(el("div", {}, el("h3", { text: "Orders by end" }), table(["final", "orders"],
      [...Object.entries(s.ended).map(([r, n]) => ["gone (" + r + ")", String(n)]),
        ...Object.entries(s.working).map(([st, n]) => ["working: " + st, String(n)])],
      [false, true])));
    tables.append(el("div", {}, el("h3", { text: "Time in state (completed stays, s)" }),
      table(["state", "stays", "median", "p99"], s.times.map((t) =>
        [t.state, String(t.stays), seconds(t.median), seconds(t.p99)]), [false, true, true, true])));
    if (s.refused_moves.length) {
      tables.append(el("div", {}, el("h3", { text: "Refused moves" }),
        table(["state", "trigger", "times"], s.refused_moves.map((r) =>
          [r.state, r.trigger, String(r.count)]), [false, false, true])));
    }
    if (data.errors.length) {
      const first = s.errors > data.errors.length ? " (the first " + data.errors.length + ")" : "";
      tables.append(el("div", {}, el("h3", { text: "Calls that raised" + first }),
        table(["t (s)", "error", "message"], data.errors.map((e) =>
          [seconds(e.t), e.error, e.message]), [true, false, false])));
    }
    parts.push(tables);
    document.getElementById("summary-body").append(...parts);
  }

  function renderCounters() {
    const body = document.getElementById("counter-body");
    for (const c of data.counters) {
      const examples = el("td", {});
      for (const ex of c.examples) {
        const line = el("div", { class: "mono" });
        if (ex.order !== null) line.append(orderLink(ex.order), " ");
        line.append(ex.text);
        examples.append(line);
      }
      body.append(el("tr", { class: c.value === 0 ? "ok" : "bad", "data-counter": c.name },
        el("td", { class: "mono", text: c.name }), el("td", { class: "num value", text: String(c.value) }),
        el("td", { text: c.about }), examples));
    }
  }

  function renderWorth() {
    const list = document.getElementById("worth-list");
    for (const w of data.worth) list.append(el("li", {}, orderLink(w.key), " \u2014 " + w.why));
    if (!data.worth.length) list.append(el("li", { text: "none: the journal has no orders" }));
    const shown = data.worth.filter((w) => byKey.get(w.key).anomalies > 0).length;
    if (data.anomalous_orders > shown) {
      const more = document.getElementById("worth-more");
      more.textContent = (data.anomalous_orders - shown) + " more orders have anomalies: " +
        "sort the table by its anomalies column to see them all.";
      more.hidden = false;
    }
  }

  function renderNever() {
    const never = summary.coverage.never;
    if (!never.length) return;
    const details = el("details", {}, el("summary", {},
      "Edges never fired ", el("span", { class: "count", text: "(" + never.length + ")" })));
    details.append(el("ul", {}, ...never.map((e) => el("li", { class: "mono", text: e }))));
    document.getElementById("never").append(details);
  }

  function renderAnomalies() {
    const root = document.getElementById("anomaly-kinds");
    if (!data.anomalies.length) {
      root.append(el("p", { text: "No anomaly was recorded." }));
      return;
    }
    for (const group of data.anomalies) {
      const details = el("details", { open: group.count <= 50, "data-kind": group.kind },
        el("summary", {}, el("strong", { class: "mono", text: group.kind }),
          " ", el("span", { class: "count", text: "(" + group.count + ")" })));
      details.append(table(["t (s)", "order", "detail"], group.items.map((a) => [
        seconds(a.t),
        a.order !== null ? orderLink(a.order) : el("span", { class: "mono", text: (a.id || "no order") + " (not in the journal)" }),
        a.detail]), [true, false, false]));
      root.append(details);
    }
  }

  // --- the order table ---------------------------------------------------------------------

  const columns = [
    { id: "key", label: "order", type: "text", get: (o) => o.key },
    // Sorted by the current oid, as a number (oids outgrow a double's exact range).
    { id: "oids", label: "oids", type: "id", get: (o) => (o.oids.length ? o.oids[o.oids.length - 1] : null) },
    { id: "side", label: "side", type: "text", get: (o) => o.side },
    { id: "final", label: "final state", type: "text", get: (o) => o.final },
    { id: "reason", label: "reason", type: "text", get: (o) => o.reason },
    { id: "born", label: "born (s)", type: "num", time: true, get: (o) => o.born },
    { id: "lifetime", label: "lifetime (s)", type: "num", time: true, get: (o) => o.lifetime },
    ...data.states.map((s) => ({ id: "time:" + s, label: s + " (s)", type: "num", time: true,
      get: (o) => (Object.prototype.hasOwnProperty.call(o.times, s) ? o.times[s] : null) })),
    { id: "steps", label: "steps", type: "num", get: (o) => o.steps },
    { id: "refused", label: "refused", type: "num", get: (o) => o.refused },
    { id: "fills", label: "fills", type: "num", get: (o) => o.fills },
    { id: "anomalies", label: "anomalies", type: "num", get: (o) => o.anomalies },
  ];
  const haystacks = new Map(data.orders.map((o) => [o.key,
    [o.key, ...o.oids, o.side || "", o.final, o.reason || ""].join(" ").toLowerCase()]));
  const position = new Map(data.orders.map((o, i) => [o.key, i]));
  const rows = new Map();
  const traces = new Map();
  const open = new Set();
  const sort = { col: null, dir: 1 };
  const filter = document.getElementById("order-filter");
  const body = document.getElementById("order-body");

  function renderHead() {
    const head = document.getElementById("order-head");
    for (const c of columns) {
      const th = el("th", { class: c.type === "num" ? "num" : null, "aria-sort": "none", "data-col": c.id },
        el("button", { type: "button", text: c.label, title: "sort by " + c.label }));
      th.firstChild.addEventListener("click", () => sortBy(c.id));
      head.append(th);
    }
  }

  function sortBy(id) {
    sort.dir = sort.col === id ? -sort.dir : 1;
    sort.col = id;
    for (const th of document.querySelectorAll("#order-head th")) {
      th.setAttribute("aria-sort", th.dataset.col !== id ? "none" : sort.dir > 0 ? "ascending" : "descending");
    }
    render();
  }

  function compare(a, b) {
    const column = columns.find((c) => c.id === sort.col);
    const x = column.get(a);
    const y = column.get(b);
    if (x === y) return position.get(a.key) - position.get(b.key);
    if (x === null || x === undefined) return 1; // empty cells last, either way
    if (y === null || y === undefined) return -1;
    const order = column.type === "num" ? x - y
      : column.type === "id" ? x.length - y.length || (x < y ? -1 : 1)
        : String(x).localeCompare(String(y));
    return order === 0 ? position.get(a.key) - position.get(b.key) : order * sort.dir;
  }

  function row(order) {
    let tr = rows.get(order.key);
    if (tr) return tr;
    tr = el("tr", { class: "order-row", "data-key": order.key });
    for (const c of columns) {
      const value = c.get(order);
      const td = el("td", { class: c.type === "num" ? "num" : null });
      if (c.id === "key") {
        td.className = "key";
        td.append(orderLink(order.key));
        if (order.worth) td.append(el("span", { class: "worth-mark", title: "worth a trace: " + order.worth, text: "\u2605" }));
      } else if (c.id === "oids") {
        // The current oid, and how many a modify replaced (all of them in the tooltip).
        td.className = "mono";
        td.textContent = order.oids.length ? order.oids[order.oids.length - 1] : "\u2014";
        if (order.oids.length > 1) {
          td.title = order.oids.join(", ");
          td.append(el("span", { class: "more", text: " +" + (order.oids.length - 1) }));
        }
      } else if (c.type === "num") {
        td.textContent = value === null ? "\u2014" : c.time ? seconds(value) : String(value);
        if (c.id === "anomalies" && value > 0) td.className = "num bad";
      } else {
        td.textContent = value === null ? "\u2014" : value;
      }
      tr.append(td);
    }
    tr.addEventListener("click", (event) => {
      event.preventDefault();
      toggle(order.key);
    });
    rows.set(order.key, tr);
    return tr;
  }

  function matching() {
    const terms = filter.value.trim().toLowerCase().split(/\s+/).filter((t) => t);
    return data.orders.filter((o) => {
      const hay = haystacks.get(o.key);
      return terms.every((t) => hay.includes(t));
    });
  }

  function render() {
    const shown = matching();
    if (sort.col !== null) shown.sort(compare);
    const fragment = document.createDocumentFragment();
    for (const order of shown) {
      const tr = row(order);
      tr.classList.toggle("open", open.has(order.key));
      fragment.append(tr);
      if (open.has(order.key)) fragment.append(traceRow(order));
    }
    body.replaceChildren(fragment);
    document.getElementById("order-count").textContent =
      shown.length + " of " + data.orders.length + " orders";
  }

  // --- an order's trace --------------------------------------------------------------------

  function traceRow(order) {
    let tr = traces.get(order.key);
    if (tr) return tr;
    const entries = data.traces[order.key] || [];
    const steps = entries.filter((e) => e.k === "step").length;
    const meta = [
      "oids: " + (order.oids.join(", ") || "none"), "side: " + (order.side || "\u2014"),
      "born t=" + seconds(order.born), "final: " + order.final + (order.reason ? " (" + order.reason + ")" : ""),
      order.ended !== null ? "ended t=" + seconds(order.ended) : "still working at the end",
      "lifetime " + seconds(order.lifetime) + " s", order.fills + " fills (" + order.filled + ")",
    ].join(" \u00b7 ");
    const stays = Object.entries(order.times).map(([s, t]) => s + " " + seconds(t) + " s").join(", ");
    const box = el("div", { class: "trace", "data-key": order.key },
      el("h3", {}, "Trace of ", el("span", { class: "mono", text: order.key }),
        " \u2014 " + steps + " steps"),
      el("p", { class: "meta", text: meta }),
      el("p", { class: "meta", text: "time in each state: " + (stays || "none") }));
    if (order.worth) box.append(el("p", { class: "meta", text: "worth a trace: " + order.worth }));
    box.append(el("p", { class: "meta" }, "drawn over the lifecycle by ",
      el("code", { text: "lifecycle trace " + order.key + " --journal " + summary.journal })));
    const head = el("tr", {}, el("th", { class: "num", text: "#" }), el("th", { class: "num", text: "t (s)" }),
      el("th", { text: "move" }), el("th", { text: "cause or detail" }));
    const rowsOut = entries.map((e) => {
      let what;
      if (e.k === "step") {
        what = el("span", { class: "move" }, e.from + " \u2192 " + e.to + " ",
          el("span", { class: "trigger", text: "(" + e.trigger + ")" }));
      } else if (e.k === "refused") {
        what = el("span", { class: "move", text: "refused: " + e.from + " --" + e.trigger + "-->" });
      } else if (e.k === "anomaly") {
        what = el("span", { class: "move", text: "anomaly: " + e.kind });
      } else {
        what = el("span", { class: "move", text: "event, no move" });
      }
      return el("tr", { class: e.k, "data-seq": e.seq },
        el("td", { class: "num", text: e.k === "step" ? e.n + "." : "" }),
        el("td", { class: "num", text: seconds(e.t) }), el("td", {}, what),
        el("td", { class: "why", text: e.why }));
    });
    box.append(el("table", { class: "trace-table" }, el("thead", {}, head), el("tbody", {}, ...rowsOut)));
    tr = el("tr", { class: "trace-row", "data-key": order.key },
      el("td", { colspan: columns.length }, box));
    traces.set(order.key, tr);
    return tr;
  }

  function reveal(key) {
    // An order the filter hides is shown by filtering for it alone.
    if (!matching().some((o) => o.key === key)) filter.value = key;
  }

  function toggle(key) {
    if (open.has(key)) {
      open.delete(key);
      render();
      return;
    }
    show(key);
    if (location.hash !== orderHref(key)) location.hash = orderHref(key);
  }

  function show(key) {
    if (!byKey.has(key)) return;
    reveal(key);
    open.add(key);
    render();
    rows.get(key).scrollIntoView({ block: "nearest" });
  }

  function showFromHash() {
    const match = /^#order=(.+)$/.exec(location.hash);
    if (match) show(decodeURIComponent(match[1]));
  }

  renderSummary();
  renderCounters();
  renderWorth();
  renderNever();
  renderAnomalies();
  renderHead();
  render();
  filter.addEventListener("input", render);
  window.addEventListener("hashchange", showFromHash);
  // Links to orders elsewhere on the page open the order even when the address already
  // names it (no hashchange then).
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.order-link");
    if (!link || link.closest("tr.order-row")) return;
    event.preventDefault();
    show(link.dataset.key);
    if (location.hash !== link.getAttribute("href")) location.hash = link.getAttribute("href");
  });
  showFromHash();
  document.body.dataset.ready = "true";
})();
