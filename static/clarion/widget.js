/* Clarion in-app banner. Embed in your product:
 *   <script src="https://<your status host>/widget.js" data-customer="<customer key>" async></script>
 * It shows the incidents and maintenance that concern that customer; each can be dismissed
 * (remembered per banner version in localStorage). No dependencies, no cookies. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var origin = new URL(script.src).origin;
  var customer = script.getAttribute("data-customer") || "";
  var url = origin + "/api/v2/banner.json" + (customer ? "?customer=" + encodeURIComponent(customer) : "");
  var colors = { critical: "#cf222e", major: "#bc4c00", minor: "#9a6700", none: "#57606a", maintenance: "#0969da" };

  function dismissed(banner) {
    try { return localStorage.getItem("clarion:" + banner.id) === banner.updated_at; } catch (e) { return false; }
  }
  function dismiss(banner, node) {
    try { localStorage.setItem("clarion:" + banner.id, banner.updated_at); } catch (e) { /* private mode */ }
    node.remove();
  }
  function render(banners) {
    var holder = document.createElement("div");
    holder.setAttribute("role", "region");
    holder.setAttribute("aria-label", "Service status");
    holder.style.cssText = "position:fixed;left:0;right:0;top:0;z-index:2147483647;font:14px/1.4 system-ui,sans-serif";
    banners.filter(function (b) { return !dismissed(b); }).forEach(function (banner) {
      var bar = document.createElement("div");
      bar.setAttribute("role", "status");
      bar.style.cssText = "display:flex;gap:1em;align-items:center;padding:.5em 1em;color:#fff;background:" + (colors[banner.impact] || colors.none);
      var text = document.createElement("a");
      text.href = banner.url;
      text.style.cssText = "color:#fff;flex:1;text-decoration:underline";
      text.textContent = banner.title + (banner.message ? " — " + banner.message : "");
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = "Dismiss";
      close.setAttribute("aria-label", "Dismiss: " + banner.title);
      close.style.cssText = "background:transparent;color:#fff;border:1px solid #fff;border-radius:4px;cursor:pointer";
      close.addEventListener("click", function () { dismiss(banner, bar); });
      bar.appendChild(text);
      bar.appendChild(close);
      holder.appendChild(bar);
    });
    if (holder.childNodes.length) { document.body.appendChild(holder); }
  }
  fetch(url, { credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : { banners: [] }; })
    .then(function (data) { render(data.banners || []); })
    .catch(function () { /* the banner must never break the host page */ });
})();
