// Sign-in with Ward's OAuth 2.0 authorization code flow and PKCE (RFC 7636), as a public client:
// the portal holds no secret. Tokens live in sessionStorage (one browser tab's session) and are
// refreshed with the rotating refresh token shortly before they expire.
//
// The server describes itself at /portal/config.json: each tenant's id, name and the client id of its
// "Ward portal" app registration.

export interface PortalTenant {
  id: string;
  name: string;
  clientId: string;
}

export interface PortalConfig {
  tenants: PortalTenant[];
  resource: string; // the API resource tokens are requested for
}

interface StoredTokens {
  tenant: string;
  clientId: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: number; // ms since epoch
}

interface PendingSignIn {
  tenant: string;
  clientId: string;
  verifier: string;
  state: string;
  returnTo: string;
}

const TOKENS_KEY = "ward.tokens";
const PENDING_KEY = "ward.signin";

let config: PortalConfig | null = null;

export async function loadConfig(): Promise<PortalConfig> {
  if (config) return config;
  const res = await fetch("/portal/config.json", { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`The server did not describe itself (/portal/config.json answered ${res.status}).`);
  config = (await res.json()) as PortalConfig;
  return config;
}

function redirectUri(): string {
  return `${location.origin}/`;
}

function randomString(bytes: number): string {
  const raw = new Uint8Array(bytes);
  crypto.getRandomValues(raw);
  return base64Url(raw);
}

function base64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// S256 where the page is a secure context (https, localhost, 127.0.0.1); browsers offer no SHA-256
// to plain-http pages, and there the server's "plain" method still binds the code to this tab.
async function challengeFor(verifier: string): Promise<{ challenge: string; method: string }> {
  if (globalThis.crypto?.subtle) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    return { challenge: base64Url(new Uint8Array(digest)), method: "S256" };
  }
  return { challenge: verifier, method: "plain" };
}

export async function beginSignIn(tenant: PortalTenant, returnTo: string): Promise<void> {
  const cfg = await loadConfig();
  const verifier = randomString(48);
  const state = randomString(16);
  const { challenge, method } = await challengeFor(verifier);
  const pending: PendingSignIn = { tenant: tenant.id, clientId: tenant.clientId, verifier, state, returnTo };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const q = new URLSearchParams({
    client_id: tenant.clientId,
    response_type: "code",
    redirect_uri: redirectUri(),
    scope: `${cfg.resource}/.default offline_access openid profile`,
    state,
    code_challenge: challenge,
    code_challenge_method: method,
  });
  location.assign(`/${tenant.id}/oauth2/v2.0/authorize?${q}`);
}

async function tokenRequest(tenant: string, form: Record<string, string>): Promise<StoredTokens> {
  const res = await fetch(`/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.access_token) {
    throw new Error(body.error_description ?? body.error ?? `The token endpoint answered ${res.status}`);
  }
  return {
    tenant,
    clientId: form.client_id,
    accessToken: body.access_token,
    refreshToken: body.refresh_token ?? "",
    expiresAt: Date.now() + Number(body.expires_in ?? 3600) * 1000,
  };
}

// Finishes a sign-in when the authorization server redirected back here with ?code=…&state=…;
// answers the path the user wanted, or null when this page load is not a sign-in callback.
export async function completeSignIn(): Promise<string | null> {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? "null") as PendingSignIn | null;
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, "", "/");
  if (error) throw new Error(params.get("error_description") ?? error);
  if (!pending || pending.state !== params.get("state")) throw new Error("The sign-in response does not match this tab's request; sign in again.");
  const tokens = await tokenRequest(pending.tenant, {
    grant_type: "authorization_code",
    client_id: pending.clientId,
    code: code!,
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  sessionStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
  return pending.returnTo || "/";
}

function stored(): StoredTokens | null {
  return JSON.parse(sessionStorage.getItem(TOKENS_KEY) ?? "null") as StoredTokens | null;
}

export function isSignedIn(): boolean {
  return stored() !== null;
}

export function signedInTenant(): string | null {
  return stored()?.tenant ?? null;
}

let refreshing: Promise<StoredTokens> | null = null;

// A valid access token, refreshed when less than two minutes remain. Throws when signed out.
export async function accessToken(): Promise<string> {
  const t = stored();
  if (!t) throw new SignedOut();
  if (t.expiresAt - Date.now() > 120_000 || !t.refreshToken) return t.accessToken;
  refreshing ??= tokenRequest(t.tenant, { grant_type: "refresh_token", client_id: t.clientId, refresh_token: t.refreshToken })
    .then((fresh) => {
      sessionStorage.setItem(TOKENS_KEY, JSON.stringify(fresh));
      return fresh;
    })
    .catch((e) => {
      signOut();
      throw e;
    })
    .finally(() => (refreshing = null));
  return (await refreshing).accessToken;
}

export function signOut(): void {
  sessionStorage.removeItem(TOKENS_KEY);
}

export class SignedOut extends Error {
  constructor() {
    super("Signed out");
  }
}
