// API keys of the signed-in account: create (the secret is shown once), rename, revoke.
import { html, useCallback, useEffect, useState, fmtTime } from '../lib.js';
import { api } from '../api.js';

function KeyRow({ k, reload, signOut }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(k.name);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState(null);

  const rename = async (e) => {
    e.preventDefault();
    try {
      await api(`/api/v2/keys/${k.id}`, { method: 'PATCH', body: { name } });
      setEditing(false);
      reload();
    } catch (err) {
      setError(err.message);
    }
  };
  const revoke = async () => {
    try {
      await api(`/api/v2/keys/${k.id}`, { method: 'DELETE' });
      if (k.current) signOut('You revoked the key you signed in with.');
      else reload();
    } catch (err) {
      setError(err.message);
    }
  };

  return html`
    <tr data-testid="key-row" data-name=${k.name}>
      <td data-label="Name" class="key-name">
        ${
          editing
            ? html`<form class="inline" onSubmit=${rename}><input aria-label="Key name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} /><button class="primary small" type="submit">Save</button><button class="ghost small" type="button" onClick=${() => setEditing(false)}>Cancel</button></form>`
            : html`${k.name} ${k.current && html`<span class="badge current">this session</span>`}`
        }
        ${error && html`<div class="error">${error}</div>`}
      </td>
      <td data-label="Key"><code>${k.display_prefix}</code></td>
      <td class="nowrap muted" data-label="Created">${fmtTime(k.created_at)}</td>
      <td class="nowrap muted" data-label="Last used">${k.last_used_at ? fmtTime(k.last_used_at) : 'Never'}</td>
      <td class="row-actions">
        ${!editing && html`<button class="ghost small" onClick=${() => setEditing(true)}>Rename</button>`}
        ${
          confirming
            ? html`<button class="danger small" onClick=${revoke}>Confirm revoke</button><button class="ghost small" onClick=${() => setConfirming(false)}>Cancel</button>`
            : html`<button class="ghost small danger-text" onClick=${() => setConfirming(true)}>Revoke</button>`
        }
      </td>
    </tr>`;
}

export function Keys({ signOut }) {
  const [keys, setKeys] = useState([]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);

  const reload = useCallback(
    () =>
      api('/api/v2/keys').then(
        (r) => setKeys(r.keys),
        (err) => setError(err.message),
      ),
    [],
  );
  useEffect(() => {
    reload();
  }, [reload]);

  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      setCreated(await api('/api/v2/keys', { method: 'POST', body: { name: name.trim() } }));
      setName('');
      reload();
    } catch (err) {
      setError(err.message);
    }
  };

  return html`
    <section class="card">
      <div class="card-head"><h2>API keys</h2></div>
      <form class="inline create-key" onSubmit=${create}>
        <input aria-label="New key name" placeholder="Name for a new key, e.g. laptop" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
        <button class="primary" type="submit" disabled=${!name.trim()}>Create key</button>
      </form>
      ${error && html`<p class="error">${error}</p>`}
      ${
        created &&
        html`
        <div class="callout" data-testid="new-key">
          <strong>Key “${created.name}” created.</strong> Copy it now: it is shown only once.
          <div class="secret"><code data-testid="new-key-secret">${created.key}</code>
            <button class="ghost small" onClick=${() => navigator.clipboard?.writeText(created.key)}>Copy</button>
            <button class="ghost small" onClick=${() => setCreated(null)}>Done</button></div>
        </div>`
      }
      <div class="table-wrap"><table class="table stack" data-testid="keys-table">
        <thead><tr><th>Name</th><th>Key</th><th>Created</th><th>Last used</th><th></th></tr></thead>
        <tbody>${keys.map((k) => html`<${KeyRow} key=${k.id} k=${k} reload=${reload} signOut=${signOut} />`)}</tbody>
      </table></div>
    </section>`;
}
