// The signed-in shell: navigation (only the screens this user may open), the user menu, and the
// routed page. Signed-out visitors get the sign-in screen.
import { useEffect, useState } from "preact/hooks";
import { apiGet } from "./api/client";
import { allowed, MeContext, type Me } from "./auth/access";
import { beginSignIn, isSignedIn, loadConfig, signOut, type PortalConfig } from "./auth/session";
import { Link } from "./components/Page";
import { ErrorBox, Loading } from "./components/States";
import { matchPattern, navigate, useLocation } from "./router";
import { routes, type RouteDef } from "./routes";

export function App({ signInError }: { signInError?: string }) {
  const [signedIn, setSignedIn] = useState(isSignedIn());
  useEffect(() => {
    const on = () => setSignedIn(false);
    window.addEventListener("ward:signed-out", on);
    return () => window.removeEventListener("ward:signed-out", on);
  }, []);
  return signedIn ? <Shell onSignOut={() => { signOut(); setSignedIn(false); }} /> : <SignIn error={signInError} />;
}

function SignIn({ error }: { error?: string }) {
  const [config, setConfig] = useState<PortalConfig | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [tenant, setTenant] = useState(0);
  useEffect(() => {
    loadConfig().then(setConfig, setFailure);
  }, []);
  const go = (e: Event) => {
    e.preventDefault();
    if (config) beginSignIn(config.tenants[tenant], location.pathname + location.search).catch(setFailure);
  };
  return (
    <main class="signin">
      <form class="card signin-card" onSubmit={go}>
        <div class="brand big">
          <span class="logo" aria-hidden="true" /> Ward
        </div>
        <p class="muted">Endpoint detection and response. Sign in with your organisation account.</p>
        {error && <div class="state error" role="alert">{error}</div>}
        {failure !== null && <ErrorBox error={failure} />}
        {!config && failure === null && <Loading what="Contacting the server" />}
        {config && config.tenants.length === 0 && <div class="state error">This server has no tenant yet: run <code>ward init</code>.</div>}
        {config && config.tenants.length > 1 && (
          <label class="field">
            Organisation
            <select value={tenant} onChange={(e) => setTenant(Number((e.target as HTMLSelectElement).value))}>
              {config.tenants.map((t, i) => (
                <option value={i} key={t.id}>{t.name}</option>
              ))}
            </select>
          </label>
        )}
        {config && config.tenants.length > 0 && (
          <button class="btn primary wide" type="submit" autofocus>
            Sign in
          </button>
        )}
      </form>
    </main>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<unknown>(null);
  const loc = useLocation();
  useEffect(() => {
    apiGet<Me>("/api/rbac/me").then(setMe, setError);
  }, []);
  if (error) return <main class="signin"><ErrorBox error={error} retry={() => location.reload()} /></main>;
  if (!me) return <main class="signin"><Loading what="Signing in" /></main>;

  let found: { route: RouteDef; params: Record<string, string> } | null = null;
  for (const route of routes) {
    const params = matchPattern(route.pattern, loc.path);
    if (params) {
      found = { route, params };
      break;
    }
  }
  const sections = ["Investigate", "Respond", "Configure"] as const;
  return (
    <MeContext.Provider value={me}>
      <a href="#main" class="skip">Skip to content</a>
      <div class="layout">
        <nav class="sidebar" aria-label="Main">
          <div class="brand">
            <span class="logo" aria-hidden="true" /> Ward
          </div>
          {sections.map((section) => {
            const items = routes.filter((r) => r.nav?.section === section && (!r.need || allowed(me, r.need)));
            if (!items.length) return null;
            return (
              <div class="nav-section" key={section}>
                <div class="nav-heading">{section}</div>
                <ul>
                  {items.map((r) => {
                    const active = r.pattern === "/" ? loc.path === "/" : loc.path.startsWith(r.pattern);
                    return (
                      <li key={r.pattern}>
                        <Link href={r.pattern} class={active ? "nav-link active" : "nav-link"}>
                          <span class="nav-icon" aria-hidden="true">{r.nav!.icon}</span>
                          {r.nav!.label}
                        </Link>
                      </li>
                    );
                  })}
                </ul>
              </div>
            );
          })}
        </nav>
        <div class="main-column">
          <header class="topbar">
            <div class="muted small">{me.allDeviceGroups ? "All device groups" : `Device groups: ${me.deviceGroups.map((g) => g.name).join(", ") || "none"}`}</div>
            <div class="user" data-testid="user">
              <span title={me.userPrincipalName}>{me.displayName}</span>
              <span class="muted small">{me.roles.join(", ")}</span>
              <button type="button" class="btn small" onClick={() => { onSignOut(); navigate("/", true); }}>
                Sign out
              </button>
            </div>
          </header>
          <main id="main" tabIndex={-1}>
            {!found && <NotFound />}
            {found && found.route.need && !allowed(me, found.route.need) && <NoAccess />}
            {found && (!found.route.need || allowed(me, found.route.need)) && (
              <found.route.page match={{ path: loc.path, params: found.params, query: loc.query }} />
            )}
          </main>
        </div>
      </div>
    </MeContext.Provider>
  );
}

function NotFound() {
  return (
    <section class="page">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link href="/">Go home</Link>.
      </p>
    </section>
  );
}

function NoAccess() {
  return (
    <section class="page">
      <h1>No access</h1>
      <p>Your roles do not include the permission this page needs. Ask an administrator.</p>
    </section>
  );
}
