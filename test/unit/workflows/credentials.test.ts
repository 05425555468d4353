import { describe, expect, it } from "vitest";
import { openAiCredential, postgresCredential, wordpressCredential } from "../../../src/core/workflows/credentials.js";

describe("credential data builders", () => {
  it("postgres: always says no SSH tunnel and no unauthorized certs, or n8n's schema demands more fields", () => {
    expect(postgresCredential("btw Postgres", { host: "postgres", port: 5432, database: "n8n", user: "n8n", password: "pw" })).toEqual({
      name: "btw Postgres",
      type: "postgres",
      data: { host: "postgres", port: 5432, database: "n8n", user: "n8n", password: "pw", ssl: "disable", allowUnauthorizedCerts: false, sshTunnel: false },
    });
  });

  it("openAiApi: the base URL without a trailing slash, no custom header", () => {
    expect(openAiCredential("btw OpenAI", { apiKey: "sk", baseUrl: "http://172.29.0.1:8080/v1/" })).toEqual({
      name: "btw OpenAI",
      type: "openAiApi",
      data: { apiKey: "sk", url: "http://172.29.0.1:8080/v1", header: false },
    });
    expect(openAiCredential("btw OpenAI", { apiKey: "sk", organizationId: "org-1" }).data).toEqual({
      apiKey: "sk",
      url: "https://api.openai.com/v1",
      header: false,
      organizationId: "org-1",
    });
  });

  it("wordpressApi: site URL, user and application password", () => {
    expect(wordpressCredential("btw WordPress", { url: "https://blog.example.com/", username: "editor", applicationPassword: "abcd efgh" })).toEqual({
      name: "btw WordPress",
      type: "wordpressApi",
      data: { url: "https://blog.example.com", username: "editor", password: "abcd efgh", allowUnauthorizedCerts: false },
    });
  });
});
