// Switchboard admin portal, HR's pages: a CSV file read into the import form; the org chart's tree (expand and collapse), its dialogs, and drag
// and drop of departments and people onto departments. Drag and drop uses pointer events
// (not the HTML5 drag API), so it works with a mouse, a pen, a touch screen and WebDriver alike;
// the move dialog is the keyboard way to do the same.
(function () {
  "use strict";

  // Expand and collapse. The first expansion also loads the children (hx-get, "click once").
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-tree-toggle]");
    if (toggle) {
      var node = toggle.closest(".tree-node");
      var children = node && node.querySelector(":scope > .tree-children");
      if (children) {
        var open = children.hasAttribute("hidden");
        children.toggleAttribute("hidden", !open);
        node.setAttribute("aria-expanded", open ? "true" : "false");
      }
      return;
    }
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && !dialog.open) {
        dialog.showModal();
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var owner = closer.closest("dialog");
      if (owner) {
        owner.close();
      }
    }
  });

  // The import form: a chosen file's text goes into the form's text area.
  document.addEventListener("change", function (event) {
    var input = event.target;
    var into = input.getAttribute && input.getAttribute("data-file-into");
    if (!into || !input.files || !input.files[0]) {
      return;
    }
    input.files[0].text().then(function (text) {
      var area = document.getElementById(into);
      if (area) {
        area.value = text;
      }
    });
  });

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  var drag = null;
  var suppressClick = false;
  var THRESHOLD = 6;

  function allowed(source, target) {
    var to = target.getAttribute("data-drop");
    if (source.getAttribute("data-drag") === "staff") {
      return to !== "root" && to !== source.getAttribute("data-from");
    }
    // A department cannot go under itself or its own subtree.
    var node = source.closest(".tree-node");
    return !(node && node.contains(target));
  }

  function finish() {
    if (!drag) {
      return;
    }
    if (drag.ghost) {
      drag.ghost.remove();
    }
    if (drag.over) {
      drag.over.classList.remove("drop-over");
    }
    drag.source.classList.remove("drag-source");
    document.body.classList.remove("dragging");
    drag = null;
  }

  document.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) {
      return;
    }
    var source = event.target.closest("[data-drag]");
    if (!source || event.target.closest("button, input, select, textarea, label")) {
      return;
    }
    drag = { source: source, x: event.clientX, y: event.clientY, active: false, ghost: null, over: null };
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag) {
      return;
    }
    if (!drag.active) {
      if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) < THRESHOLD) {
        return;
      }
      drag.active = true;
      drag.ghost = document.createElement("div");
      drag.ghost.className = "drag-ghost";
      drag.ghost.textContent = drag.source.getAttribute("data-drag-label") || "";
      document.body.appendChild(drag.ghost);
      document.body.classList.add("dragging");
      drag.source.classList.add("drag-source");
    }
    event.preventDefault();
    drag.ghost.style.transform = "translate(" + (event.clientX + 14) + "px, " + (event.clientY + 10) + "px)";
    var under = document.elementFromPoint(event.clientX, event.clientY);
    var target = under && under.closest("[data-drop]");
    if (target && !allowed(drag.source, target)) {
      target = null;
    }
    if (target !== drag.over) {
      if (drag.over) {
        drag.over.classList.remove("drop-over");
      }
      if (target) {
        target.classList.add("drop-over");
      }
      drag.over = target;
    }
  });

  document.addEventListener("pointerup", function () {
    if (!drag) {
      return;
    }
    var source = drag.source;
    var target = drag.over;
    var active = drag.active;
    finish();
    if (!active) {
      return;
    }
    // The click that ends a drag is not a click on a link.
    suppressClick = true;
    window.setTimeout(function () { suppressClick = false; }, 0);
    if (!target || !window.htmx) {
      return;
    }
    window.htmx.ajax("POST", "/admin/org/drop", {
      target: "#org-flash",
      swap: "innerHTML",
      headers: csrfHeaders(),
      values: {
        kind: source.getAttribute("data-drag"),
        id: source.getAttribute("data-id"),
        version: source.getAttribute("data-version"),
        from: source.getAttribute("data-from") || "",
        to: target.getAttribute("data-drop")
      }
    });
  });

  document.addEventListener("pointercancel", finish);
  document.addEventListener("click", function (event) {
    if (suppressClick) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
  // Links and rows are not dragged by the browser itself.
  document.addEventListener("dragstart", function (event) {
    if (event.target.closest && event.target.closest("[data-drag]")) {
      event.preventDefault();
    }
  });
})();
