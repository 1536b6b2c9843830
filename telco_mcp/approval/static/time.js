// telco-mcp approvals: the page's times in the reader's own time zone (served same-origin; CSP script-src 'self').
// The server writes each <time data-local-time> in UTC, and each [data-until] as "in N minutes": what a page
// without JavaScript shows. This rewrites them to the browser's local time and keeps the countdown current.
"use strict";

function until(when) {
  const minutes = Math.ceil((when - Date.now()) / 60000);
  if (minutes <= 0) {
    return "expired";
  }
  return minutes === 1 ? "in 1 minute" : "in " + minutes + " minutes";
}

function localise() {
  for (const time of document.querySelectorAll("time[data-local-time]")) {
    const when = new Date(time.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) {
      time.title = when.toUTCString();
      time.textContent = when.toLocaleTimeString(undefined, {
        hour: "numeric", minute: "2-digit", second: "2-digit", timeZoneName: "short",
      });
    }
  }
  for (const span of document.querySelectorAll("[data-until]")) {
    const when = new Date(span.dataset.until);
    if (!Number.isNaN(when.getTime())) {
      span.textContent = until(when.getTime());
    }
  }
}

localise();
setInterval(localise, 15000);
