-- Pinned SSH host keys (issue 13), shared by every operator and cron host of this state:
-- the first contact with a server (ssh-keyscan by `btw`) is the only trust-on-first-use;
-- afterwards every process renders its known_hosts from these rows and connects with
-- StrictHostKeyChecking=yes. `btw server trust` replaces them (with --fingerprint: exactly
-- the approved key). Keyed by host:port, not by server, because `server add` pins before the
-- server row exists.
create table host_keys (
  host        text not null check (host <> ''),
  port        integer not null check (port between 1 and 65535),
  key_type    text not null check (key_type ~ '^[a-z0-9@.-]+$'),
  public_key  text not null check (public_key ~ '^[A-Za-z0-9+/]+={0,2}$'),
  fingerprint text not null check (fingerprint ~ '^SHA256:'),
  -- first-contact (TOFU), approved (`server trust`), imported (from a $BTW_HOME/known_hosts)
  source      text not null check (source in ('first-contact', 'approved', 'imported')),
  pinned_at   timestamptz not null default now(),
  primary key (host, port, key_type)
);
