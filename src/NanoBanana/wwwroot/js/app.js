import { api, auth, upload, ApiError } from './api.js';
import { Realtime } from './realtime.js';
import { $, h, highlighted, when } from './dom.js';

const PAGE = 50;
const state = {
  user: null,
  sessions: [],
  currentId: null,
  messages: [],          // the open chat's loaded messages, oldest first
  firstOffset: 0,        // offset of messages[0] in the whole chat
  images: new Map(),     // id -> image, every picture this page has seen
  selected: new Set(),   // picture ids that go with the next message or generation
  generations: new Map(),
  providers: [],
};
const realtime = new Realtime(applyEvent, showConnection);
// The message being edited and its draft survive the re-renders that other devices' events cause.
let editing = null;

// ---------- sign in ----------

let registering = false;
$('signin-switch').addEventListener('click', () => setRegistering(!registering));

function setRegistering(on) {
  registering = on;
  $('username-field').hidden = !on;
  $('signin-username').required = on;
  $('signin-mode').textContent = on ? 'Create an account' : 'Sign in';
  $('signin-submit').textContent = on ? 'Create account' : 'Sign in';
  $('signin-switch').textContent = on ? 'Have an account? Sign in' : 'New here? Create an account';
  $('signin-password').autocomplete = on ? 'new-password' : 'current-password';
  $('signin-error').textContent = '';
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const email = $('signin-email').value.trim();
  const password = $('signin-password').value;
  $('signin-error').textContent = '';
  $('signin-submit').disabled = true;
  try {
    const body = registering
      ? await auth.register(email, $('signin-username').value.trim(), password)
      : await auth.login(email, password);
    $('signin-password').value = '';
    await enter(body.user);
  } catch (err) {
    $('signin-error').textContent = err.message;
  } finally {
    $('signin-submit').disabled = false;
  }
});

$('signout').addEventListener('click', async () => {
  try { await auth.logout(); } catch { /* signed out here whatever the service said */ }
  leave();
});
auth.onSignedOut(() => leave('You were signed out. Please sign in again.'));

async function enter(user) {
  state.user = user;
  $('whoami').textContent = user.username;
  $('signin').hidden = true;
  $('app').hidden = false;
  await Promise.all([loadSessions(), loadProviders()]);
  openSession(state.sessions[0]?.id ?? null);
}

function leave(notice = '') {
  realtime.stop();
  Object.assign(state, { user: null, sessions: [], currentId: null, messages: [], firstOffset: 0 });
  state.images.clear(); state.selected.clear(); state.generations.clear();
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = notice;
  $('signin-email').focus();
}

// ---------- sessions ----------

async function loadSessions() {
  const { sessions } = await api.get('/api/sessions?limit=100');
  state.sessions = sessions;
  renderSessions();
}

function upsertSession(session) {
  state.sessions = [session, ...state.sessions.filter((s) => s.id !== session.id)]
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  renderSessions();
  if (session.id === state.currentId) renderChatHead();
}

function removeSession(id) {
  state.sessions = state.sessions.filter((s) => s.id !== id);
  renderSessions();
  if (id === state.currentId) openSession(state.sessions[0]?.id ?? null);
}

function renderSessions() {
  $('no-sessions').hidden = state.sessions.length > 0;
  $('sessions').replaceChildren(...state.sessions.map((s) => h('li', { class: 'session', 'data-id': s.id },
    h('button', {
      type: 'button', class: 'session-open', 'aria-current': s.id === state.currentId ? 'page' : false,
      onclick: () => { openSession(s.id); closeSidebar(); },
    }, h('span', { class: 'session-title' }, s.title), h('span', { class: 'muted small' }, `${s.messageCount} messages`)),
    h('button', { type: 'button', class: 'icon', 'aria-label': `Rename ${s.title}`, onclick: () => renameSession(s) }, 'Rename'),
    h('button', { type: 'button', class: 'icon danger', 'aria-label': `Delete ${s.title}`, onclick: () => deleteSession(s) }, 'Delete'),
  )));
}

$('new-session').addEventListener('click', () => act(async () => {
  const { session } = await api.post('/api/sessions', {});
  upsertSession(session);
  openSession(session.id);
  closeSidebar();
  $('composer-text').focus();
}));

function renameSession(session) {
  const title = prompt('New name for this chat', session.title);
  if (title === null || !title.trim()) return;
  act(async () => upsertSession((await api.put(`/api/sessions/${session.id}`, { title: title.trim() })).session));
}

function deleteSession(session) {
  if (!confirm(`Delete the chat "${session.title}"?`)) return;
  act(async () => { await api.del(`/api/sessions/${session.id}`); removeSession(session.id); });
}

// ---------- one chat ----------

let opening = 0;
async function openSession(id) {
  const ticket = ++opening;
  state.currentId = id;
  state.messages = [];
  state.firstOffset = 0;
  state.selected.clear();
  state.generations.clear();
  editing = null;
  $('composer-error').textContent = '';
  renderSessions();
  $('chat').hidden = !id;
  $('empty').hidden = !!id;
  realtime.follow(id);
  if (!id) return;
  renderChatHead();
  renderMessages();
  renderPictures();
  renderGenerations();
  try {
    const [page, images, generations] = await Promise.all([
      latestMessages(id),
      api.get(`/api/images/session/${id}?limit=1000`),
      api.get(`/api/sessions/${id}/generations?limit=20`).catch(() => ({ generations: [] })),
    ]);
    if (ticket !== opening) return;
    for (const image of images.images) state.images.set(image.id, image);
    for (const g of generations.generations) if (!finished(g)) state.generations.set(g.id, g);
    state.firstOffset = page.offset;
    for (const m of page.messages) upsertMessage(m, false);
    renderMessages(true);
    renderPictures();
    renderGenerations();
  } catch (err) {
    if (ticket === opening) showError(err);
  }
}

async function latestMessages(id) {
  const first = await api.get(`/api/sessions/${id}/messages?limit=${PAGE}&offset=0`);
  const total = first.pagination.total;
  if (total <= PAGE) return { messages: first.messages, offset: 0 };
  const offset = total - PAGE;
  const last = await api.get(`/api/sessions/${id}/messages?limit=${PAGE}&offset=${offset}`);
  return { messages: last.messages, offset };
}

$('load-older').addEventListener('click', () => act(async () => {
  const id = state.currentId;
  const offset = Math.max(0, state.firstOffset - PAGE);
  const limit = state.firstOffset - offset;
  const page = await api.get(`/api/sessions/${id}/messages?limit=${limit}&offset=${offset}`);
  if (id !== state.currentId) return;
  const scroller = $('messages-scroller');
  const fromBottom = scroller.scrollHeight - scroller.scrollTop;
  state.firstOffset = offset;
  for (const m of page.messages) upsertMessage(m, false);
  renderMessages();
  scroller.scrollTop = scroller.scrollHeight - fromBottom;
}));

function currentSession() { return state.sessions.find((s) => s.id === state.currentId); }

function renderChatHead() {
  const session = currentSession();
  $('chat-title').textContent = session?.title ?? '';
  $('chat-count').textContent = session ? `${session.messageCount} messages` : '';
}

function upsertMessage(message, render = true) {
  const at = state.messages.findIndex((m) => m.id === message.id);
  if (at >= 0) state.messages[at] = message;
  else state.messages.push(message);
  state.messages.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  for (const imageId of message.imageIds) if (!state.images.has(imageId)) fetchImage(imageId);
  if (render) renderMessages(true);
}

async function fetchImage(id) {
  state.images.set(id, null); // asked for once
  try {
    const { image } = await api.get(`/api/images/${id}`);
    state.images.set(id, image);
    renderImage(image);
  } catch { /* a picture that is gone shows as missing */ }
}

function renderMessages(stickToBottom = false) {
  const scroller = $('messages-scroller');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  $('load-older').hidden = state.firstOffset === 0;
  $('messages').replaceChildren(...state.messages.filter((m) => m.role !== 'system').map(messageView));
  if (stickToBottom && (atBottom || state.messages.length <= PAGE)) scroller.scrollTop = scroller.scrollHeight;
}

function messageView(m) {
  const edited = m.updatedAt !== m.createdAt;
  return h('li', { class: `message ${m.role}`, 'data-id': m.id },
    h('div', { class: 'meta muted small' },
      h('span', {}, m.role === 'assistant' ? 'NanoBanana' : 'You'), ' · ',
      h('time', { datetime: m.createdAt }, when(m.createdAt)),
      edited ? h('button', { type: 'button', class: 'link small', onclick: () => showHistory(m) }, 'edited') : null),
    editing?.id === m.id ? editForm(m) : h('div', { class: 'text' }, m.text),
    m.imageIds.length ? h('ul', { class: 'thumbs' }, m.imageIds.map((id) => h('li', {}, thumbView(id)))) : null,
    h('div', { class: 'actions' },
      m.role === 'user' ? h('button', { type: 'button', class: 'link small', onclick: () => editMessage(m) }, 'Edit') : null,
      h('button', { type: 'button', class: 'link small danger', onclick: () => deleteMessage(m) }, 'Delete')));
}

function thumbUrl(image) {
  const thumb = [...(image.thumbnails ?? [])].sort((a, b) => a.size - b.size).find((t) => t.size >= 256);
  return thumb?.url ?? image.url;
}

/** A picture: a button that opens it full size, or its state while it is not ready. */
function thumbView(id) {
  const image = state.images.get(id);
  if (!image) return h('span', { class: 'thumb placeholder', 'data-image': id }, 'Loading…');
  if (image.status === 'failed') return h('span', { class: 'thumb placeholder', 'data-image': id }, 'Picture failed');
  const processing = image.status === 'processing';
  return h('button', {
    type: 'button', class: 'thumb', 'data-image': id, 'data-status': image.status,
    'aria-label': `Open picture ${image.width}×${image.height}${processing ? ' (processing)' : ''}`,
    onclick: () => openViewer(image),
  }, h('img', { src: processing ? image.url : thumbUrl(image), alt: '', loading: 'lazy' }),
  processing ? h('span', { class: 'badge' }, 'Processing…') : null);
}

function renderImage(image) {
  for (const el of document.querySelectorAll(`[data-image="${CSS.escape(image.id)}"]`)) {
    if (el.closest('#pictures')) continue;
    el.replaceWith(thumbView(image.id));
  }
  if (image.sessionId === state.currentId) renderPictures();
}

function openViewer(image) {
  const fresh = state.images.get(image.id) ?? image;
  $('viewer-img').src = fresh.url;
  $('viewer-img').alt = `Picture ${fresh.width}×${fresh.height}`;
  $('viewer-caption').textContent = `${fresh.width}×${fresh.height} · ${fresh.type}`;
  $('viewer').showModal();
}

async function showHistory(m) {
  await act(async () => {
    const { revisions } = await api.get(`/api/messages/${m.id}/revisions`);
    $('history-list').replaceChildren(...revisions.map((r, i) => h('li', {},
      h('div', { class: 'muted small' }, `${when(r.editedAt)}${i === revisions.length - 1 ? ' (current)' : ''}`),
      h('div', { class: 'text' }, r.text))));
    $('history').showModal();
  });
}

function editMessage(m) {
  editing = { id: m.id, text: m.text };
  renderMessages();
  document.querySelector(`.message[data-id="${CSS.escape(m.id)}"] textarea`)?.focus();
}

function stopEditing() {
  editing = null;
  renderMessages();
}

function editForm(m) {
  const area = h('textarea', { class: 'edit', 'aria-label': 'Edit message', rows: 3 });
  area.value = editing.text;
  area.addEventListener('input', () => { editing.text = area.value; });
  area.addEventListener('keydown', (e) => { if (e.key === 'Escape') stopEditing(); });
  const save = (e) => {
    e.preventDefault();
    act(async () => {
      const { messageData } = await api.put(`/api/messages/${m.id}`, { text: area.value });
      editing = null;
      upsertMessage(messageData);
    });
  };
  return h('form', { class: 'edit-form', onsubmit: save },
    area,
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: stopEditing }, 'Cancel')));
}

function deleteMessage(m) {
  if (!confirm('Delete this message?')) return;
  act(async () => { await api.del(`/api/messages/${m.id}`); removeMessage(m.id); });
}

function removeMessage(id) {
  state.messages = state.messages.filter((m) => m.id !== id);
  renderMessages();
}

// ---------- pictures: upload, choose ----------

function renderPictures() {
  const pictures = [...state.images.values()]
    .filter((i) => i && i.sessionId === state.currentId)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  $('pictures-count').textContent = `(${pictures.length})`;
  $('pictures').replaceChildren(...pictures.map((image) => {
    const chosen = state.selected.has(image.id);
    return h('li', { class: 'picture', 'data-image': image.id, 'data-status': image.status },
      thumbView(image.id),
      h('button', {
        type: 'button', class: 'small', 'aria-pressed': String(chosen), disabled: image.status === 'failed',
        onclick: () => toggleSelected(image.id),
      }, chosen ? 'Selected' : 'Select'));
  }));
  $('selected').replaceChildren(...[...state.selected].map((id) => h('li', { class: 'chip' },
    thumbView(id),
    h('button', { type: 'button', class: 'icon', 'aria-label': 'Remove picture from the next message', onclick: () => toggleSelected(id) }, '×'))));
}

function toggleSelected(id) {
  if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
  renderPictures();
}

$('file-input').addEventListener('change', (e) => { uploadFiles(e.target.files); e.target.value = ''; });

document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
  if (files.length && state.currentId) { e.preventDefault(); uploadFiles(files); }
});

const chat = $('chat');
let dragDepth = 0;
chat.addEventListener('dragenter', (e) => { if (hasFiles(e)) { dragDepth++; $('drop-hint').hidden = false; } });
chat.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; $('drop-hint').hidden = true; } });
chat.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
chat.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  $('drop-hint').hidden = true;
  uploadFiles(e.dataTransfer.files);
});
const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');

function uploadFiles(fileList) {
  const sessionId = state.currentId;
  if (!sessionId) return;
  for (const file of fileList) {
    const bar = h('progress', { max: 1, value: 0, 'aria-label': `Uploading ${file.name}` });
    const row = h('li', { class: 'upload' }, h('span', { class: 'small' }, file.name), bar);
    $('uploads').append(row);
    upload(file, sessionId, (fraction) => { bar.value = fraction; })
      .then((image) => {
        row.remove();
        state.images.set(image.id, { ...image, ...(state.images.get(image.id) ?? {}) });
        if (sessionId === state.currentId) state.selected.add(image.id);
        renderPictures();
      })
      .catch((err) => {
        row.replaceChildren(h('span', { class: 'error small' }, `${file.name}: ${err.message}`),
          h('button', { type: 'button', class: 'icon', 'aria-label': 'Dismiss', onclick: () => row.remove() }, '×'));
      });
  }
}

// ---------- composer: send, generate ----------

$('composer-text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('composer-form').requestSubmit(); }
});

$('composer-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('composer-text').value.trim();
  const imageIds = [...state.selected];
  if (!text && !imageIds.length) return;
  act(async () => {
    const { messageData } = await api.post(`/api/sessions/${state.currentId}/messages`, { role: 'user', text, imageIds });
    $('composer-text').value = '';
    state.selected.clear();
    renderPictures();
    upsertMessage(messageData);
  }, $('send'));
});

async function loadProviders() {
  try {
    const { providers } = await api.get('/api/generation/providers');
    state.providers = providers.filter((p) => p.configured);
  } catch {
    state.providers = [];
  }
  $('provider').replaceChildren(...state.providers.map((p) => h('option', { value: p.id }, p.name)));
  $('generate').disabled = state.providers.length === 0;
}

$('generate').addEventListener('click', () => {
  const prompt = $('composer-text').value.trim();
  if (!prompt) { $('composer-error').textContent = 'Describe the picture you want in the box first.'; return; }
  const imageIds = [...state.selected];
  act(async () => {
    const { generation } = await api.post(`/api/sessions/${state.currentId}/generations`,
      { provider: $('provider').value, prompt, imageIds });
    $('composer-text').value = '';
    state.selected.clear();
    renderPictures();
    upsertGeneration(generation);
  }, $('generate'));
});

const finished = (g) => ['succeeded', 'failed', 'cancelled'].includes(g.status);

function upsertGeneration(g) {
  if (g.sessionId !== state.currentId) return;
  const known = state.generations.get(g.id);
  // Events arrive in order, but a POST's answer may come after its own events.
  if (known && finished(known) && !finished(g)) return;
  state.generations.set(g.id, g);
  renderGenerations();
}

const generationWords = {
  queued: 'Waiting to start…', running: 'Making your picture…', succeeded: 'Done.',
  failed: 'Failed', cancelled: 'Cancelled.',
};

function renderGenerations() {
  $('generations').replaceChildren(...[...state.generations.values()].map((g) => h('li', {
    class: 'generation', 'data-id': g.id, 'data-status': g.status,
  },
  h('div', { class: 'small' }, h('strong', {}, providerName(g.provider)), ` · ${g.operation} · `, g.prompt),
  h('div', { class: 'row' },
    h('span', { class: 'status', role: 'status' },
      g.status === 'failed' ? `Failed: ${g.error?.message ?? 'the provider did not answer.'}` : generationWords[g.status] ?? g.status),
    finished(g) ? null : h('progress', { 'aria-label': 'Generation progress' }),
    finished(g)
      ? h('button', { type: 'button', class: 'icon', 'aria-label': 'Dismiss', onclick: () => { state.generations.delete(g.id); renderGenerations(); } }, '×')
      : h('button', { type: 'button', class: 'danger', onclick: () => cancelGeneration(g) }, 'Cancel')))));
}

const providerName = (id) => state.providers.find((p) => p.id === id)?.name ?? id;

function cancelGeneration(g) {
  act(async () => upsertGeneration((await api.del(`/api/generations/${g.id}`)).generation));
}

// ---------- search ----------

$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('search-input').value.trim();
  if (!q) return;
  act(async () => {
    const { results } = await api.get(`/api/search?q=${encodeURIComponent(q)}&limit=50`);
    $('search-list').replaceChildren(...results.map((r) => h('li', {},
      h('button', { type: 'button', class: 'result', onclick: () => { closeSearch(); openSession(r.sessionId); } },
        h('span', { class: 'muted small' }, `${r.sessionTitle} · ${when(r.createdAt)}`),
        h('span', { class: 'text' }, highlighted(r.text, r.highlights))))));
    $('search-empty').hidden = results.length > 0;
    $('search-results').hidden = false;
    $('search-title').textContent = `Search: ${q}`;
    $('search-results').querySelector('button')?.focus();
  });
});
$('search-close').addEventListener('click', closeSearch);
function closeSearch() { $('search-results').hidden = true; }

// ---------- realtime ----------

function applyEvent({ type, payload }) {
  switch (type) {
    case 'session_created':
    case 'session_updated': upsertSession(payload.session); break;
    case 'session_deleted': removeSession(payload.sessionId); break;
    case 'message_created':
    case 'message_updated': if (payload.messageData.sessionId === state.currentId) upsertMessage(payload.messageData); break;
    case 'message_deleted': if (payload.sessionId === state.currentId) removeMessage(payload.messageId); break;
    case 'image_uploaded':
    case 'image_ready':
    case 'image_failed': state.images.set(payload.image.id, payload.image); renderImage(payload.image); break;
    case 'resync_required': if (state.currentId) openSession(state.currentId); loadSessions().catch(showError); break;
    default: if (type.startsWith('generation_')) upsertGeneration(payload.generation);
  }
}

const connectionWords = { connected: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline', idle: 'Not connected' };
function showConnection(s) {
  $('connection').dataset.state = s;
  $('connection').textContent = connectionWords[s] ?? s;
}

// ---------- layout, errors, start ----------

$('toggle-sidebar').addEventListener('click', () => {
  const open = !document.body.classList.contains('sidebar-open');
  document.body.classList.toggle('sidebar-open', open);
  $('toggle-sidebar').setAttribute('aria-expanded', String(open));
  if (open) $('new-session').focus();
});
function closeSidebar() {
  document.body.classList.remove('sidebar-open');
  $('toggle-sidebar').setAttribute('aria-expanded', 'false');
}

function showError(err) {
  $('composer-error').textContent = err instanceof ApiError ? err.message : 'Something went wrong. Please try again.';
  if (!(err instanceof ApiError)) console.warn(err);
}

/** Runs a person's action: its error is shown in words, its button is disabled meanwhile. */
async function act(work, button) {
  $('composer-error').textContent = '';
  if (button) button.disabled = true;
  try { await work(); } catch (err) { showError(err); } finally { if (button) button.disabled = false; }
}

(async function start() {
  if (auth.hasRefreshToken) {
    try {
      await auth.refresh();
      const { user } = await api.get('/api/auth/me');
      await enter(user);
      return;
    } catch { /* fall through to the sign-in form */ }
  }
  $('signin').hidden = false;
})();
