// The `data` of the credentials the templates use, built from a tenant's values. Pure.
// n8n validates `data` against a JSON schema derived from the credential type
// (GET /api/v1/credentials/schema/<type>) whose conditionals bite: a postgres credential
// without `sshTunnel: false` must carry every SSH field, one without
// `allowUnauthorizedCerts: false` must not carry `ssl`; an openAiApi one without
// `header: false` must carry headerName/headerValue. These builders always send those flags.

export interface N8nCredentialData {
  name: string;
  type: string;
  data: Record<string, unknown>;
}

/** The tenant's own PostgreSQL (the `content` schema), as n8n's container reaches it. */
export function postgresCredential(name: string, db: { host: string; port: number; database: string; user: string; password: string; ssl?: "disable" | "allow" | "require" }): N8nCredentialData {
  return {
    name,
    type: "postgres",
    data: {
      host: db.host,
      port: db.port,
      database: db.database,
      user: db.user,
      password: db.password,
      ssl: db.ssl ?? "disable",
      allowUnauthorizedCerts: false,
      sshTunnel: false,
    },
  };
}

/** OpenAI, or any OpenAI-compatible endpoint via `baseUrl` (…/v1); the nodes call <baseUrl>/chat/completions and /images/generations. */
export function openAiCredential(name: string, openai: { apiKey: string; baseUrl?: string; organizationId?: string }): N8nCredentialData {
  return {
    name,
    type: "openAiApi",
    data: {
      apiKey: openai.apiKey,
      url: (openai.baseUrl ?? "https://api.openai.com/v1").replace(/\/+$/, ""),
      header: false,
      ...(openai.organizationId ? { organizationId: openai.organizationId } : {}),
    },
  };
}

/** The customer's WordPress: a user and one of its application passwords (basic auth). */
export function wordpressCredential(name: string, wp: { url: string; username: string; applicationPassword: string }): N8nCredentialData {
  return {
    name,
    type: "wordpressApi",
    data: { url: wp.url.replace(/\/+$/, ""), username: wp.username, password: wp.applicationPassword, allowUnauthorizedCerts: false },
  };
}
