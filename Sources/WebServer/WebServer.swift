// WebServer: HTTP/1.1 and WebSocket (RFC 6455) on a Reactor loop.
//
// HTTP: requests parsed by Debian's http-parser, a router of exact, pattern
// and prefix routes, static files held in memory, limits on heads and
// bodies, one sweep timer for every connection's deadlines.
// WebSocket: the opening handshake, frame decoding and encoding through the
// C shim's ts_ws_* functions, fragmentation, control frames, heartbeats and
// the closing handshake. Whole messages go to a WebSocketDelegate.
//
// It knows nothing of telemetry, PostgreSQL or metrics: the application
// registers routes, accepts or rejects upgrades, names its own reasons to
// pause reading, and counts what the callbacks report.
