// Show every <time datetime="..."> in the reader's local time zone; the markup keeps UTC.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  document.querySelectorAll("time[datetime]").forEach(function (node) {
    var when = new Date(node.getAttribute("datetime"));
    if (!isNaN(when)) { node.textContent = format.format(when); }
  });
})();
