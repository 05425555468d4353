// Remote (and local ssh) command builders: pure functions returning argv arrays.
export * from "./docker.js";
export * from "./files.js";
export * from "./host-facts.js";
export * from "./known-hosts.js";
export * from "./paths.js";
export * from "./ssh.js";
