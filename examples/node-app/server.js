// A plain Node.js HTTP server for Roost's quick start: a page, a health check, static files.
"use strict";
const http = require("http");
const fs = require("fs");
const path = require("path");

const PUBLIC = path.join(__dirname, "public");
const TYPES = { ".css": "text/css", ".js": "text/javascript", ".html": "text/html" };

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname === "/health") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ status: "ok" }));
    return;
  }
  const file = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
  const target = path.resolve(PUBLIC, file);
  if (target.startsWith(PUBLIC + path.sep) && fs.existsSync(target)) {
    res.writeHead(200, { "Content-Type": TYPES[path.extname(target)] || "application/octet-stream" });
    fs.createReadStream(target).pipe(res);
    return;
  }
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found\n");
});

const port = Number(process.env.PORT || 5000);
server.listen(port, process.env.HOST || "127.0.0.1", () => console.log(`listening on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
