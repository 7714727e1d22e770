// AITO dashboard: apply the server-sent events of aito/dashboard/live.py to the page.
// The elements it updates (data-live, data-agent, data-field) are listed in that module.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root || !window.EventSource) return;
  var offset = 0; // the server's clock minus this one, in ms
  var updates = 0;

  function age(seconds) {
    if (seconds === null) return "never";
    var units = [["d", 86400], ["h", 3600], ["min", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) return Math.floor(seconds / units[i][1]) + " " + units[i][0] + " ago";
    }
    return seconds + " s ago";
  }

  function field(scope, name) { return scope.querySelector('[data-field="' + name + '"]'); }

  function tick() {
    var cells = document.querySelectorAll('[data-field="heartbeat"][data-at]');
    for (var i = 0; i < cells.length; i++) {
      var at = Date.parse(cells[i].getAttribute("data-at"));
      cells[i].textContent = age(Math.max(0, Math.floor((Date.now() + offset - at) / 1000)));
    }
  }

  function link(href, text, cls) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (cls) a.className = cls;
    return a;
  }

  function applied() {
    updates += 1;
    root.setAttribute("data-live-state", "open");
    root.setAttribute("data-live-updated", String(updates));
  }

  var source = new EventSource(root.getAttribute("data-live"));
  source.addEventListener("organization", function (event) {
    var state = JSON.parse(event.data);
    offset = Date.parse(state.now) - Date.now();
    var lead = document.getElementById("lead");
    if (lead) {
      lead.textContent = "";
      if (state.lead) lead.appendChild(link("/agents/" + encodeURIComponent(state.lead), state.lead));
      else lead.textContent = "—";
    }
    Object.keys(state.agents).forEach(function (id) {
      var agent = state.agents[id];
      var row = document.getElementById("agent-" + id);
      if (!row) return;
      var beat = field(row, "heartbeat");
      if (agent.heartbeat_at) beat.setAttribute("data-at", agent.heartbeat_at);
      else beat.removeAttribute("data-at");
      beat.textContent = agent.heartbeat;
      var running = field(row, "running");
      running.textContent = "";
      if (agent.running_run) {
        running.appendChild(link("/runs/" + encodeURIComponent(agent.running_run), agent.running, "status-running"));
      } else {
        var no = document.createElement("span");
        no.className = "muted";
        no.textContent = "no";
        running.appendChild(no);
      }
      field(row, "spent").textContent = agent.spent;
      var bar = field(row, "burn-bar");
      bar.setAttribute("width", String(agent.burn_width));
      bar.setAttribute("class", agent.over ? "over" : "fill");
      field(row, "burn-text").textContent = agent.burn;
      var leads = field(row, "lead");
      leads.textContent = "";
      if (agent.lead) {
        var strong = document.createElement("strong");
        strong.textContent = "leads";
        leads.appendChild(strong);
      }
    });
    tick();
    applied();
  });
  source.addEventListener("log", function (event) {
    var state = JSON.parse(event.data);
    var status = field(root, "status");
    status.textContent = state.status;
    status.className = "status-" + state.status;
    if (state.logs) field(root, "log").textContent = state.logs;
    applied();
  });
  source.addEventListener("end", function () { source.close(); });
  setInterval(tick, 1000);
})();
