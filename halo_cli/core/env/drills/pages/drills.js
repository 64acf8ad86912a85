/* Multi-step drills with large targets. drillStart(seed) lays a task out from the seed (mulberry32, so the same
   seed gives the same page) and returns its goal; the page itself decides success or failure and records it in
   window.DRILL, which the task source polls after every action. */
"use strict";

var DRILL = { ready: false, done: false, success: false, reason: null, goal: "" };
var AREA_W = 160, AREA_H = 165, INSET = 1;
var COLOURS = ["#8fd18f", "#8fb8e8", "#f0c070", "#e89a9a", "#c7a2e0", "#9ad8d8"];
var NAMES = ["Red", "Blue", "Green", "Gold", "Pink", "Gray"];

function mulberry32(seed) {
  var a = seed >>> 0;
  return function () {
    a = (a + 0x6D2B79F5) >>> 0;
    var t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(items, rnd) {
  var out = items.slice();
  for (var i = out.length - 1; i > 0; i--) {
    var j = Math.floor(rnd() * (i + 1));
    var tmp = out[i]; out[i] = out[j]; out[j] = tmp;
  }
  return out;
}

/* n equal bands of a rectangle, side by side (vertical = true: columns) or stacked (rows). */
function bands(rect, n, vertical) {
  var out = [];
  for (var i = 0; i < n; i++) {
    if (vertical) out.push({ x: rect.x + i * rect.w / n, y: rect.y, w: rect.w / n, h: rect.h });
    else out.push({ x: rect.x, y: rect.y + i * rect.h / n, w: rect.w, h: rect.h / n });
  }
  return out;
}

function end(success, reason) {
  if (DRILL.done) return;
  DRILL.done = true;
  DRILL.success = success;
  DRILL.reason = reason;
}

function button(label, rect, colour, onClick) {
  var b = document.createElement("button");
  b.textContent = label;
  b.style.left = Math.round(rect.x + INSET) + "px";
  b.style.top = Math.round(rect.y + INSET) + "px";
  b.style.width = Math.round(rect.w - 2 * INSET) + "px";
  b.style.height = Math.round(rect.h - 2 * INSET) + "px";
  b.style.background = colour;
  b.addEventListener("click", function () { if (!DRILL.done) onClick(b); });
  document.getElementById("area").appendChild(b);
  return b;
}

var WHOLE = { x: 0, y: 0, w: AREA_W, h: AREA_H };

var TASKS = {
  /* Open, then Confirm: Open fills one half of the area; clicking it removes it and shows Confirm in the other
     half. Nothing fails: a click beside the buttons only spends a step. */
  confirm: function (rnd) {
    var halves = shuffled(bands(WHOLE, 2, rnd() < 0.5), rnd);
    var colours = shuffled(COLOURS, rnd);
    button("Open", halves[0], colours[0], function (open) {
      open.remove();
      button("Confirm", halves[1], colours[1], function () { end(true, "confirmed"); });
    });
    return "Click Open, then click Confirm.";
  },

  /* Buttons 1, 2, 3 side by side, to be pressed in that order. Pressing 1 removes it and the two left share the
     area in halves; pressing 2 removes it and 3 stays where it is. 1 sits at one edge and 2 in the opposite half
     (the seed picks the edge), so no single place is right twice in a row: the three presses go edge, other side,
     back. Pressing a button out of turn ends the episode in failure. */
  sequence: function (rnd) {
    var order = rnd() < 0.5 ? [2, 3, 1] : [1, 3, 2];  /* left to right */
    var colours = shuffled(COLOURS, rnd);
    var next = 1;
    var buttons = {};
    function press(n) {
      if (n !== next) { end(false, "pressed " + n + " when " + next + " was next"); return; }
      next += 1;
      if (next > 3) { end(true, "pressed 1, 2, 3 in order"); return; }
      buttons[n].remove();
      if (next === 2) layout();
    }
    function layout() {
      var left = order.filter(function (n) { return n >= next; });
      var slots = bands(WHOLE, left.length, true);
      left.forEach(function (n, i) {
        if (buttons[n]) buttons[n].remove();
        buttons[n] = button(String(n), slots[i], colours[n - 1], function () { press(n); });
      });
    }
    layout();
    return "Click the buttons 1, 2 and 3 in that order.";
  },

  /* Menu, then an item, then Submit, in three columns. Menu fills one column; clicking it shows the two items in
     the other two; picking one (a pick may be changed) shows Submit where Menu was. Submitting the wrong item ends
     in failure. */
  menu: function (rnd) {
    var columns = shuffled(bands(WHOLE, 3, true), rnd);
    var names = shuffled(NAMES, rnd).slice(0, 2);
    var target = names[Math.floor(rnd() * 2)];
    var colours = shuffled(COLOURS, rnd);
    var picked = null, submit = null;
    button("Menu", columns[0], colours[0], function (menu) {
      menu.remove();
      var items = names.map(function (name, i) {
        return button(name, columns[1 + i], colours[1 + i], function (item) {
          items.forEach(function (other) { other.classList.remove("picked"); other.removeAttribute("aria-pressed"); });
          item.classList.add("picked");
          item.setAttribute("aria-pressed", "true");
          picked = name;
          if (submit === null) {
            submit = button("Submit", columns[0], colours[3], function () {
              if (picked === target) end(true, "submitted " + picked);
              else end(false, "submitted " + picked + " instead of " + target);
            });
          }
        });
      });
    });
    return "Open the Menu, pick " + target + ", then click Submit.";
  },
};

function drillStart(seed) {
  var name = document.body.dataset.task;
  var rnd = mulberry32(seed);
  document.getElementById("area").innerHTML = "";
  DRILL.done = false; DRILL.success = false; DRILL.reason = null;
  DRILL.goal = TASKS[name](rnd);
  document.getElementById("query").textContent = DRILL.goal;
  DRILL.ready = true;
  return DRILL.goal;
}
