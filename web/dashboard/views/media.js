// A generation's result file: an image preview, an audio or video player, and a download link, all
// from its signed result_url (GET /files/..., authorised by the signature alone, so <img>/<audio>
// can load it without the API key). Shared by History and the Playground.
import { html, fmt, fmtTime } from '../lib.js';

/**
 * The URL as a path on this page's origin. result_url is absolute (the gateway's idea of its own
 * origin, which behind a proxy may name another scheme or host); the dashboard is served by the same
 * gateway, so its /files/... path always works here and stays inside the CSP's 'self'.
 */
export function sameOriginFileUrl(url) {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    return u.pathname.startsWith('/files/') ? u.pathname + u.search : null;
  } catch {
    return null;
  }
}

/** image | audio | video | null: from the file's media type, else from the generation's category. */
export function mediaKind(g) {
  const mime = g.result_metadata?.mime_type ?? '';
  for (const kind of ['image', 'audio', 'video']) if (mime.startsWith(`${kind}/`)) return kind;
  const category = g.category ?? g.type;
  if (category === 'image') return 'image';
  if (category === 'video') return 'video';
  if (category === 'tts' || category === 'audio') return 'audio';
  return null;
}

const sizeOf = (bytes) => (bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${fmt(bytes)} bytes`);

/** What the file is, in a few words: "png · 64×32 · 12 KB", "wav · 1.4 s · 45 KB". */
function describe(m) {
  if (!m) return '';
  const parts = [m.format, m.width && m.height ? `${m.width}×${m.height}` : null, m.duration ? `${Number(m.duration).toFixed(1)} s` : null, m.bytes ? sizeOf(m.bytes) : null];
  return parts.filter(Boolean).join(' · ');
}

/**
 * The result file of `g` (a generation object or a history item), or why there is none: an expired
 * file says when it was deleted. Nothing for generations without a file (text).
 */
export function ResultMedia({ g, testid = 'result' }) {
  const m = g.result_metadata;
  if (m?.expired_at) {
    return html`<p class="muted" data-testid=${`${testid}-expired`}>The file expired on ${fmtTime(m.expired_at)} (deleted after your plan's retention period).</p>`;
  }
  const url = sameOriginFileUrl(g.result_url);
  if (!url) return null;
  const kind = mediaKind(g);
  const name = `generation-${g.id}${m?.format ? `.${m.format}` : ''}`;
  return html`
    <div class="result-media">
      ${kind === 'image' && html`<img src=${url} alt=${g.prompt ? `Generated image: ${g.prompt}` : 'Generated image'} data-testid=${`${testid}-image`} />`}
      ${kind === 'audio' && html`<audio controls preload="metadata" src=${url} data-testid=${`${testid}-audio`}></audio>`}
      ${kind === 'video' && html`<video controls preload="metadata" playsinline src=${url} data-testid=${`${testid}-video`}></video>`}
      <div class="result-file">
        <a href=${url} download=${name} data-testid=${`${testid}-download`}>Download</a>
        <span class="muted">${describe(m)}</span>
      </div>
    </div>`;
}
