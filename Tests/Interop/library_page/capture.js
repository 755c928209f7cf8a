// Loaded before the library: keeps what the page and the library log (JsSIP's `debug` and
// SIP.js's logger take the console's functions when they load), for the driver to report.
"use strict";
const logLines = window.pageLog = [];
for (const level of ["log", "info", "warn", "error", "debug"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    logLines.push(level + ": " + args.map(a => (typeof a === "string" ? a : safeJSON(a))).join(" "));
    if (logLines.length > 2000) logLines.splice(0, logLines.length - 2000);
    original(...args);
  };
}
window.addEventListener("error", e => console.error("page error: " + e.message));
window.addEventListener("unhandledrejection", e => console.error("unhandled rejection: " + (e.reason && e.reason.message || e.reason)));

function safeJSON(value) {
  try { return JSON.stringify(value); } catch (e) { return String(value); }
}

