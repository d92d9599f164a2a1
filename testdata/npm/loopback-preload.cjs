'use strict';
// loopback-preload.cjs pins every TCP listener of a Node process to one
// loopback address. Load it with
//
//   MCPW_BIND_HOST=127.0.0.42 node --require /abs/path/loopback-preload.cjs entry.js
//
// The MCP reference servers call app.listen(PORT) and so bind every interface;
// they have no host option. This file wraps net.Server.prototype.listen (which
// http, https and express servers inherit) and replaces whatever host the
// caller asked for with MCPW_BIND_HOST. If MCPW_BIND_HOST is missing or is not
// a loopback address (127.0.0.0/8 or ::1) it throws while loading, so node
// exits before the program runs and nothing can bind a public interface.
// Listening on an inherited handle or file descriptor is refused because its
// address cannot be checked; Unix socket paths are left alone.

const net = require('node:net');

const ENV = 'MCPW_BIND_HOST';

function loopbackHost(raw) {
  if (typeof raw !== 'string' || raw === '') {
    throw new Error(`loopback-preload: ${ENV} is not set; refusing to start a server that could bind every interface`);
  }
  if (net.isIPv4(raw)) {
    if (raw.split('.')[0] !== '127') {
      throw new Error(`loopback-preload: ${ENV}=${JSON.stringify(raw)} is not a loopback address (want 127.0.0.0/8 or ::1)`);
    }
    return raw;
  }
  if (net.isIPv6(raw)) {
    // Normalise (e.g. 0:0:0:0:0:0:0:1) the way the WHATWG URL parser does.
    const canonical = new URL(`http://[${raw}]/`).hostname;
    if (canonical !== '[::1]') {
      throw new Error(`loopback-preload: ${ENV}=${JSON.stringify(raw)} is not a loopback address (want 127.0.0.0/8 or ::1)`);
    }
    return '::1';
  }
  throw new Error(`loopback-preload: ${ENV}=${JSON.stringify(raw)} is not an IP literal (want 127.0.0.0/8 or ::1)`);
}

const bindHost = loopbackHost(process.env[ENV]);

// Node's own rule (lib/net.js): a string that is not a non-negative number is
// a pipe name.
function isPipeName(v) {
  return typeof v === 'string' && !(Number(v) >= 0);
}

function refuse(what) {
  throw new Error(`loopback-preload: listen on ${what} refused; only TCP ports bound to ${bindHost} are allowed`);
}

// rewrite turns any listen() argument list into [options, callback?] with the
// host forced to bindHost, or returns null for a Unix socket / named pipe.
function rewrite(args) {
  let cb;
  if (args.length > 0 && typeof args[args.length - 1] === 'function') {
    cb = args[args.length - 1];
    args = args.slice(0, -1);
  }
  const first = args[0];
  let opts;
  if (first !== null && typeof first === 'object') {
    // listen(options[, cb]) or listen(handle[, backlog][, cb]).
    if ('_handle' in first || 'fd' in first || first.handle !== undefined) {
      refuse('an inherited handle or file descriptor');
    }
    if (typeof first.path === 'string' && first.path !== '') {
      return null; // Unix socket / named pipe: not a network listener.
    }
    opts = Object.assign({}, first);
    if (opts.port === undefined || opts.port === null) {
      opts.port = 0;
    }
  } else if (isPipeName(first)) {
    return null; // listen(path[, backlog][, cb])
  } else {
    // listen([port[, host[, backlog]]][, cb]) or listen(port, backlog[, cb]).
    opts = { port: first === undefined || first === null ? 0 : first };
    let rest = args.slice(1);
    if (typeof rest[0] === 'string' || rest[0] === null || rest[0] === undefined) {
      rest = rest.slice(1); // a host (replaced below) or an explicit "no host"
    }
    if (typeof rest[0] === 'number') {
      opts.backlog = rest[0];
    }
  }
  opts.host = bindHost;
  delete opts.ipv6Only;
  return cb === undefined ? [opts] : [opts, cb];
}

const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function loopbackListen(...args) {
  const rewritten = rewrite(args);
  if (rewritten === null) {
    return originalListen.apply(this, args);
  }
  return originalListen.apply(this, rewritten);
};
