// The dashboard shell: sign-in, the top bar with the balance, and hash routes for the four views.
import { html, render, useCallback, useEffect, useState, credits } from './lib.js';
import { api, onUnauthorized, session } from './api.js';
import { Overview } from './views/overview.js';
import { Playground } from './views/playground.js';
import { History } from './views/history.js';
import { Keys } from './views/keys.js';

const VIEWS = [
  { id: 'overview', label: 'Overview', component: Overview },
  { id: 'playground', label: 'Playground', component: Playground },
  { id: 'history', label: 'History', component: History },
  { id: 'keys', label: 'API keys', component: Keys },
];

function useHashRoute() {
  const read = () => location.hash.replace(/^#\/?/, '') || 'overview';
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function SignIn({ onSignedIn, notice }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) return setError('Enter your API key.');
    setBusy(true);
    setError(null);
    try {
      const me = await api('/api/v2/user/me', { key: k });
      session.signIn(k);
      onSignedIn(me);
    } catch (err) {
      setError(err.status === 401 ? 'This key is not valid or has been revoked.' : `Could not sign in: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="signin">
      <form class="card signin-card" onSubmit=${submit} data-testid="signin-form">
        <div class="brand brand-large"><span class="brand-mark">◆</span> lumengate</div>
        <p class="muted">Sign in with an API key to see your balance, usage and history.</p>
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false" placeholder="nb_…"
          value=${key} onInput=${(e) => setKey(e.currentTarget.value)} />
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
        <p class="hint">The key stays in this browser tab only (session storage) and is sent in the Authorization header.</p>
      </form>
    </main>`;
}

function Shell({ me, refreshMe, signOut }) {
  const route = useHashRoute();
  const view = VIEWS.find((v) => v.id === route) ?? VIEWS[0];
  const View = view.component;
  return html`
    <div class="shell">
      <header class="topbar">
        <div class="brand"><span class="brand-mark">◆</span> lumengate</div>
        <nav class="tabs" aria-label="Dashboard">
          ${VIEWS.map((v) => html`<a href=${`#/${v.id}`} class=${v.id === view.id ? 'tab active' : 'tab'} aria-current=${v.id === view.id ? 'page' : undefined}>${v.label}</a>`)}
        </nav>
        <div class="account">
          <span class="balance-pill" data-testid="header-balance" title="Balance in credits (prepaid, per request)">${credits(me.token_balance)}</span>
          <span class="plan-pill">${me.plan}</span>
          <span class="account-name" title=${`Signed in with key ${me.api_key?.prefix ?? ''}`}>${me.name || `Account ${me.id}`}</span>
          <button class="ghost" onClick=${signOut}>Sign out</button>
        </div>
      </header>
      <main class="content">
        <${View} me=${me} refreshMe=${refreshMe} signOut=${signOut} />
      </main>
    </div>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [loading, setLoading] = useState(!!session.key());
  const [notice, setNotice] = useState(null);

  const signOut = useCallback((message) => {
    session.signOut();
    setMe(null);
    setNotice(typeof message === 'string' ? message : null);
  }, []);
  const refreshMe = useCallback(async () => {
    try {
      setMe(await api('/api/v2/user/me'));
    } catch {
      /* a 401 signs out through onUnauthorized; other errors keep the last profile */
    }
  }, []);

  useEffect(() => onUnauthorized(() => signOut('Your key is no longer valid. Sign in again.')), [signOut]);
  useEffect(() => {
    if (session.key()) refreshMe().finally(() => setLoading(false));
  }, [refreshMe]);

  if (loading) return html`<main class="signin"><p class="muted">Loading…</p></main>`;
  if (!me)
    return html`<${SignIn} notice=${notice} onSignedIn=${(m) => {
      setNotice(null);
      setMe(m);
    }} />`;
  return html`<${Shell} me=${me} refreshMe=${refreshMe} signOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('root'));
