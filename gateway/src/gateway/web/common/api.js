// The public API client both front ends share: bearer tokens kept in sessionStorage (per tab, gone when the
// tab closes), refreshed with the refresh_token grant shortly before they expire or after a 401, and errors
// turned into ApiError from RFC 9457 problem+json. Every call says the UI language (Accept-Language), so the
// services word their problems and reasons in it.

import { lang } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.headers = headers;
  }
  get code() {
    return this.problem.error || this.problem.type || "";
  }
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
  get retryAfter() {
    const value = this.headers && this.headers.get("Retry-After");
    return value ? Number(value) : null;
  }
}

function decodeJwt(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

export class Api {
  /** @param {string} storageKey where this front end keeps its tokens in sessionStorage */
  constructor(storageKey) {
    this.storageKey = storageKey;
    this.onSignedOut = () => {};
    this.refreshing = null;
    this.refreshTimer = null;
    this.scheduleRefresh();
  }

  get tokens() {
    try {
      return JSON.parse(sessionStorage.getItem(this.storageKey) || "null");
    } catch {
      return null;
    }
  }

  set tokens(value) {
    if (value) sessionStorage.setItem(this.storageKey, JSON.stringify(value));
    else sessionStorage.removeItem(this.storageKey);
    this.scheduleRefresh();
  }

  get signedIn() {
    return Boolean(this.tokens && this.tokens.access_token);
  }

  /** The access token's claims: sub, roles, region, exp… */
  get claims() {
    return this.signedIn ? decodeJwt(this.tokens.access_token) : {};
  }

  hasRole(...roles) {
    const mine = this.claims.roles || [];
    return roles.some((r) => mine.includes(r));
  }

  keep(answer) {
    this.tokens = {
      access_token: answer.access_token,
      refresh_token: answer.refresh_token || (this.tokens && this.tokens.refresh_token) || null,
      expires_at: Date.now() + (answer.expires_in || 300) * 1000,
    };
  }

  async token(form) {
    const answer = await this.request("/api/v1/auth/token", {
      method: "POST",
      form,
      auth: false,
    });
    this.keep(answer);
    return answer;
  }

  signOut() {
    const tokens = this.tokens;
    this.tokens = null;
    clearTimeout(this.refreshTimer);
    // The gateway revokes the sign-in (RFC 7009): its tokens stop working everywhere now, not at expiry.
    // Best effort: the tab forgets them whatever the answer.
    const token = tokens && (tokens.refresh_token || tokens.access_token);
    if (token) {
      fetch("/api/v1/auth/revoke", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }).toString(),
        keepalive: true,
      }).catch(() => {});
    }
    this.onSignedOut();
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    const tokens = this.tokens;
    if (!tokens || !tokens.refresh_token) return;
    // A minute before expiry (at least 5 s from now): a fresh access token, so no call meets a 401.
    const wait = Math.max(5000, tokens.expires_at - Date.now() - 60000);
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }

  refresh() {
    const tokens = this.tokens;
    if (!tokens || !tokens.refresh_token) return Promise.resolve(false);
    if (!this.refreshing) {
      this.refreshing = this.token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token })
        .then(() => true)
        .catch((error) => {
          if (error instanceof ApiError && error.status < 500) this.signOut();
          return false;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /**
   * Call the API. options: method, json (a JSON body), form (form-encoded), multipart (a FormData: the browser
   * sets its Content-Type with the boundary), raw (a Blob or string sent as it is, with the Content-Type the
   * caller puts in headers: a CSV file), auth (default true), as ("json" default, "blob"), headers.
   */
  async request(path, options = {}, retried = false) {
    const { method = "GET", json, form, multipart, raw, auth = true, as = "json" } = options;
    const headers = { Accept: as === "json" ? "application/json" : "*/*", ...(options.headers || {}) };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    } else if (multipart !== undefined) {
      body = multipart;
    } else if (raw !== undefined) {
      body = raw;
    }
    if (auth && this.signedIn) headers.Authorization = `Bearer ${this.tokens.access_token}`;
    headers["Accept-Language"] = options.lang || lang();
    let response;
    try {
      response = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (error) {
      throw new ApiError(0, { title: "network", detail: String(error) }, null);
    }
    if (response.status === 401 && auth && !retried && this.signedIn) {
      if (await this.refresh()) return this.request(path, options, true);
      this.signOut();
    }
    if (!response.ok) {
      let problem;
      try {
        problem = await response.json();
      } catch {
        problem = { title: response.statusText, status: response.status };
      }
      throw new ApiError(response.status, problem, response.headers);
    }
    if (response.status === 204) return null;
    if (as === "blob") return response.blob();
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  get(path, options) {
    return this.request(path, { ...options, method: "GET" });
  }
  post(path, json, options) {
    return this.request(path, { ...options, method: "POST", json: json === undefined ? {} : json });
  }
  put(path, json, options) {
    return this.request(path, { ...options, method: "PUT", json });
  }
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}
