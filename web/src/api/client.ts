// Calls to Ward's public API with the signed-in user's token. Failures become ApiError with MDE's
// error envelope ({"error": {"code", "message"}}) unpacked, so screens can show the server's words.
import { accessToken, SignedOut, signOut } from "../auth/session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ODataList<T> {
  value: T[];
  "@odata.count"?: number;
  "@odata.nextLink"?: string;
}

type Body = object | string | FormData | undefined;

async function send(method: string, path: string, body?: Body, accept = "application/json", contentType = "text/plain"): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${await accessToken()}`, Accept: accept };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (typeof body === "string") {
    payload = body;
    headers["Content-Type"] = contentType;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401) {
    signOut();
    window.dispatchEvent(new Event("ward:signed-out"));
    throw new SignedOut();
  }
  if (!res.ok) {
    const text = await res.text();
    let code = `HTTP${res.status}`;
    let message = text || res.statusText;
    try {
      const env = JSON.parse(text);
      code = env.error?.code ?? code;
      message = env.error?.message ?? message;
    } catch {
      /* not JSON: keep the text */
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function apiGet<T>(path: string): Promise<T> {
  return (await send("GET", path)).json() as Promise<T>;
}

export async function apiText(path: string): Promise<string> {
  return (await send("GET", path, undefined, "*/*")).text();
}

export async function apiBlob(path: string): Promise<Blob> {
  return (await send("GET", path, undefined, "*/*")).blob();
}

// Objects are sent as JSON; a string body is sent as `contentType` (text/plain unless given).
export async function apiSend<T = unknown>(method: "POST" | "PATCH" | "PUT" | "DELETE", path: string, body?: Body, contentType?: string): Promise<T> {
  const res = await send(method, path, body, "application/json", contentType);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// Every page of an OData list (follows @odata.nextLink), up to `limit` entities.
export async function apiGetAll<T>(path: string, limit = 10_000): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined = path;
  while (next && out.length < limit) {
    const page: ODataList<T> = await apiGet<ODataList<T>>(next);
    out.push(...page.value);
    next = page["@odata.nextLink"];
    if (next) next = new URL(next, location.origin).pathname + new URL(next, location.origin).search;
  }
  return out.slice(0, limit);
}

// An OData query string from parts; empty parts are left out.
export function odata(parts: { filter?: string[]; top?: number; skip?: number; orderby?: string; count?: boolean; expand?: string; select?: string }): string {
  const q = new URLSearchParams();
  const filter = (parts.filter ?? []).filter(Boolean);
  if (filter.length) q.set("$filter", filter.map((f) => (filter.length > 1 ? `(${f})` : f)).join(" and "));
  if (parts.top !== undefined) q.set("$top", String(parts.top));
  if (parts.skip) q.set("$skip", String(parts.skip));
  if (parts.orderby) q.set("$orderby", parts.orderby);
  if (parts.count) q.set("$count", "true");
  if (parts.expand) q.set("$expand", parts.expand);
  if (parts.select) q.set("$select", parts.select);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// An OData string literal: quotes doubled.
export function odataString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
