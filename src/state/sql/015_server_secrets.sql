-- Secrets btw generates for a server (issue 22 item 4): the token of the proxy's private
-- metrics listener, which Prometheus presents as a bearer token. Sealed like tenant secrets
-- (src/secrets, bound to the server id and the name); the plaintext lives only in the
-- server's Caddyfile and in Prometheus' credentials file, both 0600.
create table server_secrets (
  server_id  bigint not null references servers (id) on delete cascade,
  name       text not null check (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
  -- which master key sealed it (for rotation); never the key itself
  key_id     text not null,
  ciphertext bytea not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (server_id, name)
);

create trigger server_secrets_touch_updated_at before update on server_secrets
  for each row execute function btw_touch_updated_at();
